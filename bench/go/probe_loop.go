// Go program for bench/go_probe_cost.c: N iterations of one loop, prints ns per iteration.
// The loop is "go" (calls a small Go function: its stack check, the call, the return
// address), or "nop1" / "nop5" (nops_amd64.s: a probed 1-byte or 5-byte nop).
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

func nop1Loop(n int)
func nop5Loop(n int)

func main() {
	var n int
	var err error
	kind := "go"
	if len(os.Args) == 2 || len(os.Args) == 3 {
		n, err = strconv.Atoi(os.Args[1])
	}
	if len(os.Args) == 3 {
		kind = os.Args[2]
	}
	if len(os.Args) < 2 || len(os.Args) > 3 || err != nil || n <= 0 {
		fmt.Fprintln(os.Stderr, "usage: probe_loop N [go|nop1|nop5]")
		os.Exit(2)
	}
	t := time.Now()
	switch kind {
	case "go":
		sink = loop(n)
	case "nop1":
		nop1Loop(n)
	case "nop5":
		nop5Loop(n)
	default:
		fmt.Fprintln(os.Stderr, "probe_loop: unknown loop", kind)
		os.Exit(2)
	}
	fmt.Printf("%.1f\n", float64(time.Since(t).Nanoseconds())/float64(n))
}
