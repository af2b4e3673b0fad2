// Go program for bench/go_probe_cost.c: calls one small function N times and prints ns per call.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

var sink int

// work has a stack check (it may call fmt) like the etcd functions the agent probes.
//
//go:noinline
func work(i int) int {
	if i < 0 {
		fmt.Fprintln(os.Stderr, i)
	}
	return i*3 + 1
}

//go:noinline
func loop(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s += work(i)
	}
	return s
}

func main() {
	n, err := strconv.Atoi(os.Args[1])
	if err != nil || n <= 0 {
		fmt.Fprintln(os.Stderr, "usage: probe_loop N")
		os.Exit(2)
	}
	t := time.Now()
	sink = loop(n)
	fmt.Printf("%.1f\n", float64(time.Since(t).Nanoseconds())/float64(n))
}
