// Small Go program whose functions the pclntab and probe-site unit tests look up.
package main

import (
	"fmt"
	"os"
)

// probeSmall has a small frame: its prologue compares RSP itself with the stack guard.
//
//go:noinline
func probeSmall(a, b int) int {
	fmt.Fprintln(os.Stderr, a, b)
	return a + b
}

// probeMedium has a frame between the guard's slack and StackBig: the prologue computes
// RSP minus the frame into R12 with one lea.
//
//go:noinline
func probeMedium(n int) int {
	var buf [1024]byte
	for i := range buf {
		buf[i] = byte(i * n)
	}
	fmt.Fprintln(os.Stderr, buf[n%len(buf)])
	return int(buf[n%len(buf)])
}

// probeLarge has a frame beyond StackBig: the prologue subtracts the frame from a copy of
// RSP in R12 and checks for wrap-around before the guard compare.
//
//go:noinline
func probeLarge(n int) int {
	var buf [8192]byte
	for i := range buf {
		buf[i] = byte(i * n)
	}
	fmt.Fprintln(os.Stderr, buf[n%len(buf)])
	return int(buf[n%len(buf)])
}

// probeLeaf needs no stack check at all.
//
//go:noinline
func probeLeaf(a int) int {
	return a * 3
}

func main() {
	fmt.Println(probeSmall(1, 2) + probeMedium(len(os.Args)) + probeLarge(len(os.Args)) + probeLeaf(4))
}

// probeRecord is a struct whose field offsets the DWARF tests read.
type probeRecord struct {
	kind uint8
	seq  uint64
	name string
	code int32
}

var lastRecord probeRecord

//go:noinline
func probeStore(r probeRecord) {
	lastRecord = r
}

func init() {
	probeStore(probeRecord{kind: 1, seq: 2, name: "x", code: 3})
}
