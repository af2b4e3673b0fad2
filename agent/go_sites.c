/* Probe-site finder for Go functions: decodes the prologue's stack check and finds direct calls. */
#include "go_sites.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The part of a prologue decoded: the longest form is 3 + 7 + 6 + 4 + 6 bytes. */
#define PROLOGUE_MAX 32

static const uint8_t cmp_rsp_guard[4] = { 0x49, 0x3b, 0x66, 0x10 }; /* cmp 0x10(%r14),%rsp */
static const uint8_t cmp_r12_guard[4] = { 0x4d, 0x3b, 0x66, 0x10 }; /* cmp 0x10(%r14),%r12 */
static const uint8_t lea_r12_d32[4] = { 0x4c, 0x8d, 0xa4, 0x24 };   /* lea d32(%rsp),%r12 */
static const uint8_t lea_r12_d8[4] = { 0x4c, 0x8d, 0x64, 0x24 };    /* lea d8(%rsp),%r12 */
static const uint8_t mov_rsp_r12[3] = { 0x49, 0x89, 0xe4 };         /* mov %rsp,%r12 */
static const uint8_t sub_r12_i32[3] = { 0x49, 0x81, 0xec };         /* sub $i32,%r12 */
static const uint8_t nop5[5] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };

static int32_t rd_s32(const uint8_t *p)
{
	return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			 (uint32_t)p[3] << 24);
}

enum go_site_class go_site_classify(const uint8_t *insn)
{
	const uint8_t *p = insn;

	if (memcmp(insn, nop5, sizeof(nop5)) == 0)
		return GO_SITE_NOP5;
	if (p[0] == 0x41 && p[1] >= 0x50 && p[1] <= 0x57)
		return GO_SITE_EMULATED; /* push %r8..%r15 */
	if ((p[0] >= 0x50 && p[0] <= 0x57) || p[0] == 0x90 || p[0] == 0xe8 || p[0] == 0xe9 ||
	    p[0] == 0xeb || (p[0] >= 0x70 && p[0] <= 0x7f))
		return GO_SITE_EMULATED;
	if (p[0] == 0x0f && p[1] >= 0x80 && p[1] <= 0x8f)
		return GO_SITE_EMULATED;
	return GO_SITE_STEPPED;
}

/* Length and target of the conditional branch at `p` with short opcode `op` (0x76 jbe,
 * 0x72 jb) or its near form; 0 when it is not that branch. */
static size_t decode_jcc(const uint8_t *p, uint64_t addr, uint8_t op, uint64_t *target)
{
	if (p[0] == op) {
		*target = addr + 2 + (uint64_t)(int64_t)(int8_t)p[1];
		return 2;
	}
	if (p[0] == 0x0f && p[1] == op + 0x10) {
		*target = addr + 6 + (uint64_t)(int64_t)rd_s32(p + 2);
		return 6;
	}
	return 0;
}

/* Offset of the jbe within the prologue at `p`, or -1 when the prologue is none of the
 * compiler's three stack checks. */
static int prologue_jbe(const uint8_t *p)
{
	size_t n = 0;
	uint64_t unused;

	if (memcmp(p, cmp_rsp_guard, 4) == 0)
		return 4;
	if (memcmp(p, lea_r12_d32, 4) == 0)
		n = 8;
	else if (memcmp(p, lea_r12_d8, 4) == 0)
		n = 5;
	else if (memcmp(p, mov_rsp_r12, 3) == 0 && memcmp(p + 3, sub_r12_i32, 3) == 0) {
		size_t jb = decode_jcc(p + 10, 0, 0x72, &unused);

		if (!jb)
			return -1;
		n = 10 + jb;
	} else {
		return -1;
	}
	return memcmp(p + n, cmp_r12_guard, 4) == 0 ? (int)n + 4 : -1;
}

/* True when the code from `from` to the function's end holds a jmp back to its entry:
 * the morestack block restarts the function. */
static bool jumps_to_entry(const uint8_t *code, const struct gopclntab_func *f, uint64_t from)
{
	for (uint64_t a = from; a + 2 <= f->end; a++) {
		const uint8_t *p = code + (a - f->entry);

		if (p[0] == 0xeb && a + 2 + (uint64_t)(int64_t)(int8_t)p[1] == f->entry)
			return true;
		if (p[0] == 0xe9 && a + 5 <= f->end &&
		    a + 5 + (uint64_t)(int64_t)rd_s32(p + 1) == f->entry)
			return true;
	}
	return false;
}

/* The whole code of `name`, malloc'ed; *f filled. Returns 0, -ENOENT or -ENOEXEC. */
static int read_func(const struct gopclntab *t, const char *name, struct gopclntab_func *f,
		     uint8_t **code, char *errbuf, size_t errlen)
{
	size_t len;
	int err;

	err = gopclntab_lookup(t, name, f);
	if (err) {
		snprintf(errbuf, errlen, "%s: %s", name,
			 err == -ENOTUNIQ ? "two functions of that name" : "no such function");
		return -ENOENT;
	}
	len = (size_t)(f->end - f->entry);
	if (len < 8 || len > (1u << 24)) {
		snprintf(errbuf, errlen, "%s: implausible size %zu", name, len);
		return -ENOEXEC;
	}
	/* int3 slack: the prologue decoder may read past the end of a tiny function */
	*code = malloc(len + PROLOGUE_MAX);
	if (!*code)
		return -ENOMEM;
	memset(*code + len, 0xcc, PROLOGUE_MAX);
	err = gopclntab_read_code(t, f->entry, *code, len);
	if (err) {
		free(*code);
		*code = NULL;
		snprintf(errbuf, errlen, "%s: code at %#llx not in the file", name,
			 (unsigned long long)f->entry);
		return -ENOEXEC;
	}
	return 0;
}

static int fill_site(const struct gopclntab *t, uint64_t addr, const uint8_t *insn,
		     struct go_site *s)
{
	s->addr = addr;
	s->cls = go_site_classify(insn);
	return gopclntab_file_offset(t, addr, &s->offset);
}

int go_site_stack_check(const struct gopclntab *t, const char *func, struct go_site *site,
			char *errbuf, size_t errlen)
{
	struct gopclntab_func f;
	uint8_t *code = NULL;
	uint64_t target, jbe;
	int off, err;

	err = read_func(t, func, &f, &code, errbuf, errlen);
	if (err)
		return err;
	err = -ENOEXEC;
	off = prologue_jbe(code);
	if (off < 0) {
		snprintf(errbuf, errlen,
			 "%s: prologue at %#llx is not a Go stack check (cmp 0x10(%%r14); jbe)",
			 func, (unsigned long long)f.entry);
		goto cleanup;
	}
	jbe = f.entry + (uint64_t)off;
	if (!decode_jcc(code + off, jbe, 0x76, &target)) {
		snprintf(errbuf, errlen, "%s: no jbe after the stack-guard compare at %#llx", func,
			 (unsigned long long)jbe);
		goto cleanup;
	}
	if (target <= jbe || target >= f.end || !jumps_to_entry(code, &f, target)) {
		snprintf(errbuf, errlen, "%s: the jbe at %#llx does not lead to a morestack block",
			 func, (unsigned long long)jbe);
		goto cleanup;
	}
	if (fill_site(t, jbe, code + off, site)) {
		snprintf(errbuf, errlen, "%s: %#llx has no file offset", func,
			 (unsigned long long)jbe);
		goto cleanup;
	}
	err = 0;
cleanup:
	free(code);
	return err;
}

int go_site_calls(const struct gopclntab *t, const char *caller, const char *callee,
		  struct go_call_site *sites, size_t expected, char *errbuf, size_t errlen)
{
	struct gopclntab_func f, target;
	uint8_t *code = NULL;
	size_t found = 0;
	int err;

	err = gopclntab_lookup(t, callee, &target);
	if (err) {
		snprintf(errbuf, errlen, "%s: %s", callee,
			 err == -ENOTUNIQ ? "two functions of that name" : "no such function");
		return -ENOENT;
	}
	err = read_func(t, caller, &f, &code, errbuf, errlen);
	if (err)
		return err;
	/* A byte scan, not a decode: an e8 inside another instruction whose next four bytes
	 * happen to reach exactly the callee is what the exact count guards against. */
	for (uint64_t a = f.entry; a + 5 <= f.end; a++) {
		const uint8_t *p = code + (a - f.entry);

		if (p[0] != 0xe8 || a + 5 + (uint64_t)(int64_t)rd_s32(p + 1) != target.entry)
			continue;
		if (found < expected && (fill_site(t, a, p, &sites[found].call) ||
					 fill_site(t, a + 5, p + 5, &sites[found].after))) {
			found = expected + 1;
			break;
		}
		found++;
	}
	err = 0;
	if (found != expected) {
		snprintf(errbuf, errlen, "%s: %zu calls to %s, expected %zu", caller, found, callee,
			 expected);
		err = -ENOEXEC;
	}
	free(code);
	return err;
}

/* What the walk after a call knows: where the callee's RAX is. */
struct walk {
	bool in_rax;  /* RAX still holds it */
	int32_t slot; /* and/or the stack slot it was spilled to (-1: none) */
};

/* A register the instruction writes: RAX loses the value, RSP is never stepped over. */
static int walk_writes(struct walk *w, unsigned reg)
{
	if (reg == 4)
		return -1;
	if (reg == 0)
		w->in_rax = false;
	return 0;
}

/* ModRM operand at p (after the opcode): its length into *len; *rsp_disp the displacement
 * when it is disp(%rsp) with no index (else INT32_MIN); *is_reg for a register operand. */
static int walk_modrm(const uint8_t *p, size_t avail, uint8_t rex, size_t *len, int32_t *rsp_disp,
		      bool *is_reg)
{
	unsigned mod, rm;
	bool rsp_simple = false;
	size_t n = 1;

	if (avail < 1)
		return -1;
	mod = p[0] >> 6;
	rm = p[0] & 7;
	*rsp_disp = INT32_MIN;
	*is_reg = mod == 3;
	if (mod == 3) {
		*len = 1;
		return 0;
	}
	if (rm == 4) {
		if (avail < 2)
			return -1;
		/* base RSP (not R12), no index */
		rsp_simple = (p[1] & 7) == 4 && !(rex & 1) && ((p[1] >> 3) & 7) == 4 && !(rex & 2);
		n = 2;
		if (mod == 0 && (p[1] & 7) == 5)
			n += 4;
	} else if (mod == 0 && rm == 5) {
		n += 4; /* rip-relative */
	}
	n += mod == 1 ? 1 : mod == 2 ? 4 : 0;
	if (n > avail)
		return -1;
	if (rsp_simple && mod == 0)
		*rsp_disp = 0;
	else if (rsp_simple && mod == 1)
		*rsp_disp = (int8_t)p[2];
	else if (rsp_simple && mod == 2)
		*rsp_disp = rd_s32(p + 2);
	*len = n;
	return 0;
}

/* Steps over one instruction at p: its length, or 0 when the walk must stop without a
 * site (see go_site_after_call). */
static size_t walk_insn(const uint8_t *p, size_t avail, struct walk *w)
{
	size_t n = 0, ml;
	uint8_t rex = 0, op;
	int32_t disp;
	bool is_reg;
	unsigned reg, rm;

	if (avail > 0 && p[0] == 0x66)
		n++; /* operand size: only nopw is expected with it */
	if (n < avail && (p[n] & 0xf0) == 0x40)
		rex = p[n++];
	if (n + 2 > avail)
		return 0;
	op = p[n++];
	if (op == 0x3c || op == 0x3d) { /* cmp $imm,%al / %eax / %rax: no ModRM */
		n += op == 0x3c ? 1 : 4;
		return n <= avail ? n : 0;
	}
	if (op == 0x0f) {
		if (p[n++] != 0x1f || n >= avail)
			return 0; /* only the multi-byte nop */
		return walk_modrm(p + n, avail - n, rex, &ml, &disp, &is_reg) ? 0 : n + ml;
	}
	if (walk_modrm(p + n, avail - n, rex, &ml, &disp, &is_reg))
		return 0;
	reg = ((p[n] >> 3) & 7) | (rex & 4 ? 8 : 0);
	rm = (p[n] & 7) | (rex & 1 ? 8 : 0);
	n += ml;
	switch (op) {
	case 0x89: /* mov reg, r/m */
		if (is_reg)
			return walk_writes(w, rm) ? 0 : n;
		if (disp == INT32_MIN)
			return 0; /* a store the walk cannot place */
		if (w->slot != INT32_MIN && disp > w->slot - 8 && disp < w->slot + 8)
			w->slot = INT32_MIN; /* the spill slot is overwritten */
		if (reg == 0 && (rex & 8) && w->in_rax)
			w->slot = disp;
		return n;
	case 0x8b: /* mov r/m, reg */
	case 0x8d: /* lea */
		return walk_writes(w, reg) ? 0 : n;
	case 0x84: /* test */
	case 0x85:
	case 0x38: /* cmp */
	case 0x39:
	case 0x3a:
	case 0x3b:
		return n;
	case 0x83: /* group 1 with imm8: only cmp leaves its operand */
		if (n + 1 > avail)
			return 0;
		if (((p[n - ml] >> 3) & 7) == 7)
			return n + 1;
		return is_reg && !walk_writes(w, rm) ? n + 1 : 0;
	default:
		return 0;
	}
}

int go_site_walk(const uint8_t *code, size_t len, int32_t *result_slot)
{
	struct walk w = { .in_rax = true, .slot = INT32_MIN };
	size_t at = 0;

	for (int i = 0; i <= 16 && at + 5 <= len; i++) {
		size_t n;

		if (go_site_classify(code + at) != GO_SITE_STEPPED) {
			if (w.in_rax)
				*result_slot = -1;
			else if (w.slot != INT32_MIN && w.slot >= 0)
				*result_slot = w.slot;
			else
				return -1;
			return (int)at;
		}
		n = walk_insn(code + at, len - at, &w);
		if (!n)
			return -1;
		at += n;
	}
	return -1;
}

int go_site_after_call(const struct gopclntab *t, const char *caller, const char *callee,
		       struct go_after_site *out, char *errbuf, size_t errlen)
{
	struct gopclntab_func f;
	struct go_call_site cs;
	uint8_t *code = NULL;
	uint64_t from;
	int at, err;

	err = go_site_calls(t, caller, callee, &cs, 1, errbuf, errlen);
	if (err)
		return err;
	err = read_func(t, caller, &f, &code, errbuf, errlen);
	if (err)
		return err;
	from = cs.after.addr;
	at = go_site_walk(code + (from - f.entry), (size_t)(f.end - from), &out->result_slot);
	err = -ENOEXEC;
	if (at < 0) {
		snprintf(errbuf, errlen, "%s: no emulated instruction after the call to %s at %#llx "
			 "with its result still known", caller, callee,
			 (unsigned long long)cs.call.addr);
		goto cleanup;
	}
	if (fill_site(t, from + (uint64_t)at, code + (from - f.entry) + at, &out->site)) {
		snprintf(errbuf, errlen, "%s: %#llx has no file offset", caller,
			 (unsigned long long)(from + (uint64_t)at));
		goto cleanup;
	}
	err = 0;
cleanup:
	free(code);
	return err;
}

/* True when the code [from, to) of f (its bytes at code) leaves slot(%rsp) unwritten: only
 * the instructions go_site_walk steps over, and 1-byte nops. */
static bool slot_kept(const uint8_t *code, const struct gopclntab_func *f, uint64_t from,
		      uint64_t to, int32_t slot)
{
	struct walk w = { .in_rax = false, .slot = slot };

	while (from < to) {
		const uint8_t *p = code + (from - f->entry);
		size_t n = p[0] == 0x90 ? 1 : walk_insn(p, (size_t)(f->end - from), &w);

		if (!n || w.slot != slot)
			return false;
		from += n;
	}
	return from == to;
}

int go_site_timed(const struct gopclntab *t, const char *caller, const char *callee,
		  const char *timer, struct go_timed_site *out, char *errbuf, size_t errlen)
{
	struct go_after_site op, tm;
	struct gopclntab_func f, tf;
	struct go_call_site tc;
	uint8_t *code = NULL;
	int err;

	err = go_site_after_call(t, caller, callee, &op, errbuf, errlen);
	if (!err)
		err = go_site_after_call(t, caller, timer, &tm, errbuf, errlen);
	if (!err)
		err = go_site_calls(t, caller, timer, &tc, 1, errbuf, errlen);
	if (err)
		return err;
	if (gopclntab_lookup(t, timer, &tf)) {
		snprintf(errbuf, errlen, "%s: no such function (or two of that name)", timer);
		return -ENOENT;
	}
	err = read_func(t, caller, &f, &code, errbuf, errlen);
	if (err)
		return err;
	err = -ENOEXEC;
	if (op.result_slot < tf.args || op.site.addr > tc.call.addr) {
		snprintf(errbuf, errlen, "%s: the result of %s is not in a stack slot past the "
			 "arguments of %s, which follows it", caller, callee, timer);
		goto cleanup;
	}
	/* the operation's site itself is a nop or a branch the walk does not step: from it on
	 * only when it is a nop, else the call must come right at it */
	if (!slot_kept(code, &f, op.site.addr, tc.call.addr, op.result_slot) ||
	    !slot_kept(code, &f, tc.after.addr, tm.site.addr, op.result_slot)) {
		snprintf(errbuf, errlen, "%s: the spilled result of %s may be overwritten before "
			 "%#llx", caller, callee, (unsigned long long)tm.site.addr);
		goto cleanup;
	}
	out->site = tm.site;
	out->result_slot = op.result_slot;
	out->duration_slot = tm.result_slot;
	err = 0;
cleanup:
	free(code);
	return err;
}
