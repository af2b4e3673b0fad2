/* Unit tests for the batch-probe record buffers (metastore/trace.c, trace.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "trace.h"

/* --- probe recorder: the test defines the probe contract's functions itself ------------ */

static char log_buf[8192];
static size_t log_off;
static unsigned direct_calls;

static void log_add(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_off += (size_t)vsnprintf(log_buf + log_off, sizeof(log_buf) - log_off, fmt, ap);
	va_end(ap);
	assert_true(log_off < sizeof(log_buf));
}

static void log_reset(void)
{
	ms_trace_flush();
	log_buf[0] = 0;
	log_off = 0;
	direct_calls = 0;
}

volatile uint16_t ms_probe_grpc_batch_semaphore;
volatile uint16_t ms_probe_storage_batch_semaphore;
volatile uint16_t ms_probe_mvcc_batch_semaphore;
volatile uint16_t ms_probe_raft_batch_semaphore;

/* One batch as "name[n]: kind/id/a/b/c ..." ; times are checked, not printed. */
static char want_buf[1024];
static uint64_t last_storage_end;

static void log_batch(const char *name, const struct ms_probe_rec *recs, uint32_t n)
{
	assert_true(n >= 1 && n <= MS_PROBE_BATCH_MAX);
	if (recs[n - 1].kind == MS_REC_STORAGE_OP)
		last_storage_end = recs[n - 1].val;
	log_add("%s[%u]:", name, n);
	for (uint32_t i = 0; i < n && i < 3; i++)
		log_add(" %u/%llu/%llu/%u/%u/%u", recs[i].kind, (unsigned long long)recs[i].id,
			(unsigned long long)recs[i].val, recs[i].a, recs[i].b, recs[i].c);
	if (n > 3)
		log_add(" ..");
	log_add("; ");
}

void ms_probe_grpc_batch(const struct ms_probe_rec *recs, uint32_t n)
{
	log_batch("grpc", recs, n);
}

void ms_probe_storage_batch(const struct ms_probe_rec *recs, uint32_t n)
{
	log_batch("storage", recs, n);
}

void ms_probe_mvcc_batch(const struct ms_probe_rec *recs, uint32_t n)
{
	log_batch("mvcc", recs, n);
}

void ms_probe_raft_batch(const struct ms_probe_rec *recs, uint32_t n)
{
	log_batch("raft", recs, n);
}

void ms_probe_grpc_request_begin(uint64_t req_id, uint32_t method)
{
	(void)req_id;
	(void)method;
	direct_calls++;
}

void ms_probe_grpc_request_end(uint64_t req_id, uint32_t method, uint32_t code)
{
	(void)req_id;
	(void)method;
	(void)code;
	direct_calls++;
}

void ms_probe_storage_begin(uint64_t op_id, uint32_t op, uint32_t kind)
{
	(void)op_id;
	(void)op;
	(void)kind;
	direct_calls++;
}

void ms_probe_storage_end(uint64_t op_id, uint32_t op, uint32_t kind, uint32_t status)
{
	(void)op_id;
	(void)op;
	(void)kind;
	(void)status;
	direct_calls++;
}

void ms_probe_raft_commit(uint64_t node, uint64_t index)
{
	(void)node;
	(void)index;
	direct_calls++;
}

/* --- buffers --------------------------------------------------------------------------- */

static void add(enum ms_trace_buf_id b, uint16_t kind, uint64_t id)
{
	ms_trace_add(b, kind, id, 0, id * 10, 1, 2, 3);
}

static void run_one_each(void)
{
	/* added out of order: flushed grpc, storage, mvcc, raft */
	add(MS_TRACE_RAFT, MS_REC_RAFT_APPLY, 4);
	add(MS_TRACE_MVCC, MS_REC_MVCC_REVISION, 3);
	add(MS_TRACE_STORAGE, MS_REC_STORAGE_OP, 2);
	add(MS_TRACE_GRPC, MS_REC_GRPC_BEGIN, 1);
}

static void run_order_kept(void)
{
	add(MS_TRACE_GRPC, MS_REC_GRPC_BEGIN, 7);
	add(MS_TRACE_GRPC, MS_REC_GRPC_BEGIN, 8);
	add(MS_TRACE_GRPC, MS_REC_GRPC_END, 7);
}

static void run_full(void)
{
	/* the 65th record flushes the 64 before it; one stays for the final flush */
	for (uint64_t i = 1; i <= MS_PROBE_BATCH_MAX + 1; i++)
		add(MS_TRACE_STORAGE, MS_REC_STORAGE_OP, i);
}

static void run_two_full(void)
{
	for (uint64_t i = 1; i <= 2 * MS_PROBE_BATCH_MAX; i++)
		add(MS_TRACE_MVCC, MS_REC_MVCC_REVISION, i);
}

static void run_bad_buffer(void)
{
	ms_trace_add(MS_TRACE_COUNT, MS_REC_GRPC_BEGIN, 1, 0, 0, 0, 0, 0);
}

static void test_buffers(void **state)
{
	static const struct {
		const char *name;
		void (*run)(void);
		const char *before_flush; /* batches handed over while adding */
		const char *after_flush;  /* what ms_trace_flush() adds */
	} cases[] = {
		{ "one each", run_one_each, "",
		  "grpc[1]: 1/1/10/1/2/3; storage[1]: 16/2/20/1/2/3; mvcc[1]: 32/3/30/1/2/3; "
		  "raft[1]: 50/4/40/1/2/3; " },
		{ "order kept", run_order_kept, "",
		  "grpc[3]: 1/7/70/1/2/3 1/8/80/1/2/3 2/7/70/1/2/3; " },
		{ "full buffer", run_full, "storage[64]: 16/1/10/1/2/3 16/2/20/1/2/3 16/3/30/1/2/3 ..; ",
		  "storage[1]: 16/65/650/1/2/3; " },
		{ "two full buffers", run_two_full,
		  "mvcc[64]: 32/1/10/1/2/3 32/2/20/1/2/3 32/3/30/1/2/3 ..; ",
		  "mvcc[64]: 32/65/650/1/2/3 32/66/660/1/2/3 32/67/670/1/2/3 ..; " },
		{ "no such buffer", run_bad_buffer, "", "" },
	};
	char want[1024];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		log_reset();
		cases[i].run();
		if (strcmp(log_buf, cases[i].before_flush) != 0)
			fail_msg("%s: before flush got \"%s\" want \"%s\"", cases[i].name, log_buf,
				 cases[i].before_flush);
		ms_trace_flush();
		snprintf(want, sizeof(want), "%s%s", cases[i].before_flush, cases[i].after_flush);
		if (strcmp(log_buf, want) != 0)
			fail_msg("%s: got \"%s\" want \"%s\"", cases[i].name, log_buf, want);
		for (int b = 0; b < MS_TRACE_COUNT; b++)
			assert_int_equal(ms_trace_pending((enum ms_trace_buf_id)b), 0);
		/* a flush of empty buffers hands nothing over */
		ms_trace_flush();
		assert_string_equal(log_buf, want);
	}
}

/* --- the inline event helpers ------------------------------------------------------------ */

static void test_semaphores(void **state)
{
	uint64_t t0, before;
	const struct ms_probe_rec *g, *st;

	(void)state;
	/* no semaphore: the direct probes fire, nothing is recorded, no begin time is taken */
	log_reset();
	ms_trace_grpc_begin(5, 2);
	t0 = ms_trace_storage_begin(9, MS_STORAGE_OP_PUT, MS_STORAGE_MEMORY);
	assert_int_equal(t0, 0);
	ms_trace_storage_end(9, MS_STORAGE_OP_PUT, MS_STORAGE_MEMORY, MS_STORAGE_STATUS_OK, t0);
	ms_trace_grpc_end(5, 2, 0);
	ms_trace_raft_commit(1, 3);
	ms_trace_flush();
	assert_int_equal(direct_calls, 5);
	assert_string_equal(log_buf, "");

	/* semaphores up: the same events also become records, with times in order */
	log_reset();
	ms_probe_grpc_batch_semaphore = 1;
	ms_probe_storage_batch_semaphore = 1;
	before = ms_trace_now();
	ms_trace_grpc_begin(5, 2);
	t0 = ms_trace_storage_begin(9, MS_STORAGE_OP_PUT, MS_STORAGE_MEMORY);
	ms_trace_storage_end(9, MS_STORAGE_OP_PUT, MS_STORAGE_MEMORY, MS_STORAGE_STATUS_NOMEM, t0);
	ms_trace_grpc_end(5, 2, 8);
	ms_trace_raft_commit(1, 3); /* raft's semaphore is down */
	/* a storage operation that began before the semaphore went up gets no record */
	ms_trace_storage_end(10, MS_STORAGE_OP_PUT, MS_STORAGE_MEMORY, MS_STORAGE_STATUS_OK, 0);
	assert_int_equal(direct_calls, 6);
	assert_int_equal(ms_trace_pending(MS_TRACE_GRPC), 2);
	assert_int_equal(ms_trace_pending(MS_TRACE_STORAGE), 1);
	assert_int_equal(ms_trace_pending(MS_TRACE_RAFT), 0);
	g = ms_trace_peek(MS_TRACE_GRPC);
	st = ms_trace_peek(MS_TRACE_STORAGE);
	assert_true(g[0].t_ns >= before && st[0].t_ns >= g[0].t_ns && st[0].val >= st[0].t_ns &&
		    g[1].t_ns >= st[0].val && g[1].t_ns <= ms_trace_now());
	ms_trace_flush();
	ms_probe_grpc_batch_semaphore = 0;
	ms_probe_storage_batch_semaphore = 0;
	/* kind/id/val/a/b/c: the storage record's val is its end time */
	snprintf(want_buf, sizeof(want_buf),
		 "grpc[2]: 1/5/0/2/0/0 2/5/0/2/8/0; storage[1]: 16/9/%llu/1/0/4; ",
		 (unsigned long long)last_storage_end);
	assert_string_equal(log_buf, want_buf);
}

/* --- flushes on the event loop ------------------------------------------------------------ */

static void on_timer(uv_timer_t *t)
{
	(void)t;
	add(MS_TRACE_RAFT, MS_REC_RAFT_APPLY, 11);
}

static void test_loop_flush(void **state)
{
	uv_loop_t loop;
	uv_timer_t timer;

	(void)state;
	log_reset();
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(ms_trace_start(&loop), 0);
	assert_int_equal(ms_trace_start(&loop), UV_EBUSY);
	/* the flush handles alone do not keep the loop running */
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	/* a record made in a callback reaches its probe in the same loop iteration */
	uv_timer_init(&loop, &timer);
	uv_timer_start(&timer, on_timer, 0, 0);
	uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(ms_trace_pending(MS_TRACE_RAFT), 0);
	assert_string_equal(log_buf, "raft[1]: 50/11/110/1/2/3; ");
	uv_close((uv_handle_t *)&timer, NULL);
	/* stop flushes what is left and closes the handles */
	add(MS_TRACE_GRPC, MS_REC_GRPC_PANIC, 12);
	ms_trace_stop();
	assert_string_equal(log_buf, "raft[1]: 50/11/110/1/2/3; grpc[1]: 3/12/120/1/2/3; ");
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buffers),
		cmocka_unit_test(test_semaphores),
		cmocka_unit_test(test_loop_flush),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
