// Go program for test_go_morestack: recursion deep enough that goroutine stacks grow, so the
// stack-check branch to runtime.morestack is taken and the function starts again.
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
)

var calls int64
var mu sync.Mutex

// grow has a frame of a few hundred bytes and a stack check.
//
//go:noinline
func grow(n int) int {
	var pad [320]byte
	pad[n%len(pad)] = byte(n)
	if n == 0 {
		return int(pad[0])
	}
	return grow(n-1) + int(pad[n%len(pad)])
}

func main() {
	goroutines, _ := strconv.Atoi(os.Args[1])
	depth, _ := strconv.Atoi(os.Args[2])
	var wg sync.WaitGroup
	for i := 0; i < goroutines; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			grow(depth)
			mu.Lock()
			calls += int64(depth + 1)
			mu.Unlock()
		}()
	}
	wg.Wait()
	fmt.Println(calls)
}
