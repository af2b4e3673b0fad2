/* Uprobe sites in Go functions: the stack-check branch of a prologue, the instructions around a call. */
#ifndef AGENT_GO_SITES_H
#define AGENT_GO_SITES_H

#include <stddef.h>
#include <stdint.h>

#include "gopclntab.h"

/* What the kernel does with a uprobe on the site's instruction (cost order). */
enum go_site_class {
	GO_SITE_NOP5,     /* 5-byte NOP: optimized trampoline */
	GO_SITE_EMULATED, /* jcc, jmp, call, push: emulated, no single step */
	GO_SITE_STEPPED,  /* anything else: int3 and a single step */
};

struct go_site {
	uint64_t addr;   /* virtual address of the probed instruction */
	uint64_t offset; /* its file offset: what the uprobe is attached at */
	enum go_site_class cls;
};

/*
 * The conditional branch to runtime.morestack in the prologue of Go function `func`: the
 * first instruction the kernel emulates, with the arguments still in their registers. The
 * prologue must be one of the three the Go 1.17+ amd64 compiler emits:
 *   cmp 0x10(%r14),%rsp; jbe            (frames up to 128 bytes)
 *   lea -N(%rsp),%r12; cmp 0x10(%r14),%r12; jbe
 *   mov %rsp,%r12; sub $N,%r12; jb; cmp 0x10(%r14),%r12; jbe   (frames beyond 4 KiB)
 * and the branch must lead inside the function to a block that jumps back to its entry.
 * When the branch is taken the function runs again from its entry after the stack grew:
 * the BPF program skips that hit by the flags (CF or ZF set). Returns 0, -ENOENT (no such
 * function, or two of that name), or -ENOEXEC with a one-line reason in errbuf.
 */
int go_site_stack_check(const struct gopclntab *t, const char *func, struct go_site *site,
			char *errbuf, size_t errlen);

/* One call instruction found by go_site_calls, and the instruction it returns to. */
struct go_call_site {
	struct go_site call;  /* the call (emulated): the callee has not run yet */
	struct go_site after; /* the return address: the callee has returned */
};

/*
 * The direct calls (e8 rel32) from Go function `caller` to function `callee`. Exactly
 * `expected` of them must be found, or nothing is returned: a different count means
 * another build (inlined, split) whose timing would not match the target's own. Returns
 * 0 with `expected` entries in sites, -ENOENT (a function missing or ambiguous), or
 * -ENOEXEC with a one-line reason in errbuf.
 */
int go_site_calls(const struct gopclntab *t, const char *caller, const char *callee,
		  struct go_call_site *sites, size_t expected, char *errbuf, size_t errlen);

/* The first instruction after a call that the kernel emulates (or a nop5), and where the
 * callee's first result word is there. */
struct go_after_site {
	struct go_site site;
	int32_t result_slot; /* -1: still in RAX; else spilled at result_slot(%rsp) */
};

/*
 * The one direct call from `caller` to `callee` (as go_site_calls with one expected), and
 * the first instruction after it the kernel does not single-step: the return address is
 * an ordinary instruction (a spill, a load) and would cost an int3 and a single step per
 * hit. The walk steps over the moves, loads, leas, tests, compares and multi-byte nops the
 * compiler puts there, following the callee's RAX into its stack spill slot when a later
 * load overwrites RAX; it stops at the first jcc, jmp, call, push, 1-byte nop or nop5.
 * Anything else on the way (a store that is not to the stack frame, a write to RSP, an
 * instruction it does not know, more than 16 of them) refuses the site: the value or the
 * frame could change unseen. Returns 0, -ENOENT, or -ENOEXEC with a reason in errbuf.
 */
int go_site_after_call(const struct gopclntab *t, const char *caller, const char *callee,
		       struct go_after_site *out, char *errbuf, size_t errlen);

/* One site that sees an operation's result and how long it took: the first emulated
 * instruction after the call of a timer (time.Since) that follows the operation's call. */
struct go_timed_site {
	struct go_site site;
	int32_t result_slot;   /* the operation's first result word, spilled at result_slot(%rsp) */
	int32_t duration_slot; /* the timer's result: -1 still in RAX, else at duration_slot(%rsp) */
};

/*
 * For `caller` that calls `callee` once and then `timer` once (`took := time.Since(start)`
 * right after `err := callee(...)`), the site go_site_after_call finds after the timer's call,
 * where the duration is known, with the callee's result still in the stack slot it was
 * spilled to: that slot past the timer's spill area (its args), and nothing from the
 * callee's return to the site writing it. One hit per operation instead of a hit at its
 * call and one after it, and the target's own duration. Returns 0, -ENOENT, or -ENOEXEC
 * with a reason in errbuf.
 */
int go_site_timed(const struct gopclntab *t, const char *caller, const char *callee,
		  const char *timer, struct go_timed_site *out, char *errbuf, size_t errlen);

/*
 * The walk of go_site_after_call over `code` (at least `len` bytes, the first instruction
 * after the call first). Returns the offset of the site into code (>= 0) with *result_slot
 * set, or -1 when the walk cannot get there.
 */
int go_site_walk(const uint8_t *code, size_t len, int32_t *result_slot);

/* How the kernel handles a uprobe on the instruction starting with `insn` (>= 5 bytes). */
enum go_site_class go_site_classify(const uint8_t *insn);

#endif /* AGENT_GO_SITES_H */
