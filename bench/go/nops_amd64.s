// Loops for bench/go_probe_cost.c whose probed instruction is a nop the agent's after-call
// sites land on: a 1-byte nop (emulated) and a 5-byte nop (the optimized trampoline).

#include "textflag.h"

// func nop1Loop(n int): n times a 1-byte nop at offset 5 (after the 5-byte MOVQ).
TEXT ·nop1Loop(SB), NOSPLIT, $0-8
	MOVQ n+0(FP), CX
loop1:
	BYTE $0x90
	DECQ CX
	JNZ loop1
	RET

// func nop5Loop(n int): n times nopl 0x0(%rax,%rax,1) at offset 5.
TEXT ·nop5Loop(SB), NOSPLIT, $0-8
	MOVQ n+0(FP), CX
loop5:
	BYTE $0x0f; BYTE $0x1f; BYTE $0x44; BYTE $0x00; BYTE $0x00
	DECQ CX
	JNZ loop5
	RET
