/* Unit tests for the batch-probe record buffers (metastore/probe/trace.c, trace.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "probe/trace.h"
#include "probe/trace_loop.h"

/* --- probe recorder: the test defines the probe contract's functions itself ------------ */

static char log_buf[8192];
static size_t log_off;
static unsigned direct_calls;
static unsigned nbatches;
static bool check_end_times;

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
	nbatches = 0;
}

volatile uint16_t ms_probe_batch_semaphore;


/* One buffer as "name[n]: kind/id/val/a/b/c ..." (three records at most); times are checked
 * by the tests, not printed. */
static void log_buf_of(const char *name, const struct ms_probe_rec *recs, uint32_t n)
{
	assert_true(n <= MS_PROBE_BATCH_MAX);
	if (!n)
		return;
	log_add("%s[%u]:", name, n);
	for (uint32_t i = 0; i < n && i < 3; i++)
		log_add(" %u/%llu/%llu/%u/%u/%u", recs[i].kind, (unsigned long long)recs[i].id,
			(unsigned long long)recs[i].val, recs[i].a, recs[i].b, recs[i].c);
	if (n > 3)
		log_add(" ..");
	log_add("; ");
}

/* One batch: its buffers in order, then "|". */
void ms_probe_batch(const struct ms_probe_batch *b)
{
	static const char *const names[MS_BATCH_BUFS] = { "grpc", "storage", "mvcc", "raft" };
	uint32_t begun = 0;

	nbatches++;
	for (unsigned m = 0; m < MS_METHOD_COUNT; m++)
		begun += b->grpc_begun[m];
	/* no END record is handed over before it has its end time (tests that wrote their END
	 * records through ms_trace_grpc_end) */
	for (uint32_t i = 0; check_end_times && i < b->n[MS_BATCH_GRPC] && i < MS_PROBE_BATCH_MAX; i++)
		if (b->rec[MS_BATCH_GRPC][i].kind == MS_REC_GRPC_END)
			assert_true(b->rec[MS_BATCH_GRPC][i].t_ns >= b->rec[MS_BATCH_GRPC][i].val);
	assert_true(b->n[0] + b->n[1] + b->n[2] + b->n[3] + begun > 0);
	for (unsigned i = 0; i < MS_BATCH_BUFS; i++)
		log_buf_of(names[i], b->rec[i], b->n[i]);
	log_add("| ");
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

void ms_probe_raft_propose(uint64_t node, uint64_t index)
{
	(void)node;
	(void)index;
	direct_calls++;
}

void ms_probe_mvcc_revision(uint64_t node, int64_t rev)
{
	(void)node;
	(void)rev;
}

void ms_probe_mvcc_compact(uint64_t node, int64_t rev)
{
	(void)node;
	(void)rev;
}

void ms_probe_raft_apply(uint64_t node, uint64_t index)
{
	(void)node;
	(void)index;
}

void ms_probe_raft_commit(uint64_t node, uint64_t index)
{
	(void)node;
	(void)index;
	direct_calls++;
}

/* --- buffers --------------------------------------------------------------------------- */

static void add(unsigned b, uint16_t kind, uint64_t id)
{
	ms_trace_add(b, kind, id, 0, id * 10, 1, 2, 3);
}

static void run_one_each(void)
{
	/* added out of order: one batch, buffers in the order grpc, storage, mvcc, raft */
	add(MS_BATCH_RAFT, MS_REC_RAFT_APPLY, 4);
	add(MS_BATCH_MVCC, MS_REC_MVCC_REVISION, 3);
	add(MS_BATCH_STORAGE, MS_REC_STORAGE_OP, 2);
	add(MS_BATCH_GRPC, MS_REC_GRPC_BEGIN, 1);
}

static void run_order_kept(void)
{
	add(MS_BATCH_GRPC, MS_REC_GRPC_BEGIN, 7);
	add(MS_BATCH_GRPC, MS_REC_GRPC_BEGIN, 8);
	add(MS_BATCH_GRPC, MS_REC_GRPC_END, 7);
}

static void run_full(void)
{
	/* the 257th storage record hands over the batch (the grpc record too); one stays */
	add(MS_BATCH_GRPC, MS_REC_GRPC_BEGIN, 9);
	for (uint64_t i = 1; i <= MS_PROBE_BATCH_MAX + 1; i++)
		add(MS_BATCH_STORAGE, MS_REC_STORAGE_OP, i);
}

static void run_two_full(void)
{
	for (uint64_t i = 1; i <= 2 * MS_PROBE_BATCH_MAX; i++)
		add(MS_BATCH_MVCC, MS_REC_MVCC_REVISION, i);
}

static void run_bad_buffer(void)
{
	ms_trace_add(MS_BATCH_BUFS, MS_REC_GRPC_BEGIN, 1, 0, 0, 0, 0, 0);
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
		  "raft[1]: 50/4/40/1/2/3; | " },
		{ "order kept", run_order_kept, "",
		  "grpc[3]: 1/7/70/1/2/3 1/8/80/1/2/3 2/7/70/1/2/3; | " },
		{ "full buffer", run_full,
		  "grpc[1]: 1/9/90/1/2/3; storage[256]: 16/1/10/1/2/3 16/2/20/1/2/3 16/3/30/1/2/3 ..; | ",
		  "storage[1]: 16/257/2570/1/2/3; | " },
		{ "two full buffers", run_two_full,
		  "mvcc[256]: 32/1/10/1/2/3 32/2/20/1/2/3 32/3/30/1/2/3 ..; | ",
		  "mvcc[256]: 32/257/2570/1/2/3 32/258/2580/1/2/3 32/259/2590/1/2/3 ..; | " },
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
		for (unsigned b = 0; b <= MS_BATCH_BUFS; b++)
			assert_int_equal(ms_trace_pending(b), 0);
		/* a flush of empty buffers hands nothing over */
		ms_trace_flush();
		assert_string_equal(log_buf, want);
	}
}

/* --- the inline event helpers ------------------------------------------------------------ */

static void test_semaphores(void **state)
{
	uint64_t t0, g0, p0, before;
	const struct ms_probe_rec *g, *st, *rf;

	(void)state;
	/* no semaphore: the direct probes fire, nothing is recorded, no time is taken */
	log_reset();
	g0 = ms_trace_grpc_begin(5, 2);
	t0 = ms_trace_storage_begin(9, MS_STORAGE_OP_PUT, MS_STORAGE_MEMORY);
	ms_trace_storage_end(9, MS_STORAGE_OP_PUT, MS_STORAGE_MEMORY, MS_STORAGE_STATUS_OK, t0);
	ms_trace_grpc_end(5, 2, 0, g0);
	p0 = ms_trace_raft_propose(1, 3);
	ms_trace_raft_commit(1, 3, p0, 0);
	ms_trace_flush();
	assert_int_equal(g0, 0);
	assert_int_equal(t0, 0);
	assert_int_equal(p0, 0);
	assert_int_equal(direct_calls, 6);
	assert_string_equal(log_buf, "");

	/* semaphore up: the same events also become records, with times in order */
	log_reset();
	ms_probe_batch_semaphore = 1;
	before = ms_trace_now();
	p0 = ms_trace_raft_propose(1, 3);
	g0 = ms_trace_grpc_begin(5, 2);
	t0 = ms_trace_storage_begin(9, MS_STORAGE_OP_PUT, MS_STORAGE_MEMORY);
	ms_trace_storage_end(9, MS_STORAGE_OP_PUT, MS_STORAGE_MEMORY, MS_STORAGE_STATUS_NOMEM, t0);
	ms_trace_grpc_end(5, 2, 8, g0);
	/* the end record waits for its end time until output is written */
	assert_int_equal(ms_trace_peek(MS_BATCH_GRPC)[0].t_ns, 0);
	assert_int_equal(ms_trace_ends_from, 1);
	ms_trace_stamp_ends();
	assert_int_equal(ms_trace_ends_from, 0);
	ms_trace_raft_commit(1, 3, p0, ms_trace_now());
	/* an entry proposed on another node: nothing here times it, so no record */
	ms_trace_raft_commit(1, 4, 0, ms_trace_now());
	/* an operation that began before the semaphore went up gets no record */
	ms_trace_storage_end(10, MS_STORAGE_OP_PUT, MS_STORAGE_MEMORY, MS_STORAGE_STATUS_OK, 0);
	assert_int_equal(direct_calls, 8);
	/* the call's begin is a count, its end the one record */
	assert_int_equal(ms_trace_pending(MS_BATCH_GRPC), 1);
	for (uint32_t m = 0; m < MS_METHOD_COUNT; m++)
		assert_int_equal(ms_trace_batch.grpc_begun[m], m == 2 ? 1 : 0);
	assert_int_equal(ms_trace_pending(MS_BATCH_STORAGE), 1);
	assert_int_equal(ms_trace_pending(MS_BATCH_RAFT), 1);
	assert_null(ms_trace_peek(MS_BATCH_BUFS));
	g = ms_trace_peek(MS_BATCH_GRPC);
	st = ms_trace_peek(MS_BATCH_STORAGE);
	rf = ms_trace_peek(MS_BATCH_RAFT);
	/* call begin, storage begin and end, end record (carrying the begin), commit */
	assert_true(p0 >= before && g0 >= p0 && g0 > ms_trace_batch.window_ns && st[0].t_ns >= g0 &&
		    st[0].val >= st[0].t_ns && g[0].t_ns >= st[0].val && g[0].val == g0 &&
		    g[0].kind == MS_REC_GRPC_END && g[0].a == 2 && g[0].b == 8 &&
		    rf[0].t_ns >= g[0].t_ns && rf[0].val == p0 && rf[0].t_ns <= ms_trace_now());
	ms_trace_flush();
	assert_int_equal(nbatches, 1);
	/* the hand-over starts the next window: the begin counts are back at 0, and a call
	 * begun now has a begin time above the window's start */
	for (uint32_t m = 0; m < MS_METHOD_COUNT; m++)
		assert_int_equal(ms_trace_batch.grpc_begun[m], 0);
	assert_true(ms_trace_batch.window_ns >= rf[0].t_ns);
	g0 = ms_trace_grpc_begin(6, 9999); /* out of range: counted as unknown */
	assert_true(g0 > ms_trace_batch.window_ns);
	assert_int_equal(ms_trace_batch.grpc_begun[MS_METHOD_UNKNOWN], 1);
	/* a batch with a begin and no record is still handed over */
	assert_int_equal(ms_trace_pending(MS_BATCH_GRPC), 0);
	ms_trace_flush();
	assert_int_equal(nbatches, 2);
	/* a call whose begin was not counted ends without a record */
	ms_probe_batch_semaphore = 0;
	g0 = ms_trace_grpc_begin(7, 2);
	ms_probe_batch_semaphore = 1;
	ms_trace_grpc_end(7, 2, 0, g0);
	assert_int_equal(g0, 0);
	assert_int_equal(ms_trace_pending(MS_BATCH_GRPC), 0);
	ms_trace_flush();
	assert_int_equal(nbatches, 2);
	ms_probe_batch_semaphore = 0;
}

/* A read callback's one timestamp begins every call of that read; the ends of the calls
 * ended before a write all get that write's time, and a hand-over stamps what still waits. */
static void test_read_and_write_stamps(void **state)
{
	uint64_t r, g1, g2, g3;
	const struct ms_probe_rec *g;

	(void)state;
	log_reset();
	ms_probe_batch_semaphore = 0;
	ms_trace_read_begin();
	assert_int_equal(ms_trace_read_ns, 0); /* detached: no time taken */
	ms_trace_read_end();
	ms_probe_batch_semaphore = 1;
	ms_trace_read_begin();
	r = ms_trace_read_ns;
	assert_true(r > ms_trace_batch.window_ns);
	g1 = ms_trace_grpc_begin(1, 2);
	g2 = ms_trace_grpc_begin(2, 3);
	ms_trace_read_end();
	assert_int_equal(ms_trace_read_ns, 0);
	g3 = ms_trace_grpc_begin(3, 2); /* outside a read: its own time */
	assert_int_equal(g1, r);
	assert_int_equal(g2, r);
	assert_true(g3 >= r);
	ms_trace_grpc_end(1, 2, 0, g1);
	ms_trace_grpc_end(2, 3, 5, g2);
	ms_trace_stamp_ends();
	ms_trace_grpc_end(3, 2, 0, g3);
	g = ms_trace_peek(MS_BATCH_GRPC);
	assert_int_equal(ms_trace_pending(MS_BATCH_GRPC), 3);
	assert_int_equal(g[0].t_ns, g[1].t_ns);
	assert_true(g[0].t_ns >= g3);
	assert_int_equal(g[2].t_ns, 0);
	assert_int_equal(ms_trace_ends_from, 3);
	/* the hand-over stamps the third (ms_probe_batch checks every END has its time) */
	check_end_times = true;
	ms_trace_flush();
	check_end_times = false;
	assert_int_equal(nbatches, 1);
	assert_int_equal(ms_trace_ends_from, 0);
	ms_probe_batch_semaphore = 0;
}

/* Gauge records: one per buffer and node between hand-overs, holding the latest value. */
static void test_gauges(void **state)
{
	(void)state;
	log_reset();
	ms_probe_batch_semaphore = 1;
	ms_trace_mvcc_revision(7, 2);
	ms_trace_mvcc_revision(7, 3);
	ms_trace_mvcc_compact(7, 2);
	ms_trace_mvcc_revision(7, 4);
	ms_trace_mvcc_revision(8, 1); /* another node: its own record */
	ms_trace_raft_apply(7, 10);
	ms_trace_raft_commit(7, 11, 5, 6);
	ms_trace_raft_apply(7, 11);
	ms_trace_flush();
	ms_trace_mvcc_revision(7, 5); /* a new batch: a new record */
	ms_trace_flush();
	ms_probe_batch_semaphore = 0;
	/* kind/id/val/a/b/c */
	assert_string_equal(log_buf, "mvcc[3]: 32/7/4/0/0/0 33/7/2/0/0/0 32/8/1/0/0/0; "
				     "raft[2]: 50/7/11/0/0/0 49/7/5/0/0/0; | "
				     "mvcc[1]: 32/7/5/0/0/0; | ");
}

/* --- the event clock ---------------------------------------------------------------------- */

static uint64_t mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Read through the TSC or not, a timestamp lies between the CLOCK_MONOTONIC reads around it
 * (within 2 us: the TSC rate's error over at most 1 ms), and the TSC is used exactly when the
 * kernel keeps time with it, once the rate was measured over 10 ms. */
static void test_clock(void **state)
{
	char cs[32] = "";
	FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
	uint64_t start = mono(), prev = 0, n = 0;

	(void)state;
	if (f) {
		if (!fgets(cs, sizeof(cs), f))
			cs[0] = 0;
		fclose(f);
	}
	while (mono() - start < 30000000) {
		uint64_t a = mono(), t = ms_trace_now(), b = mono();

		if (t + 2000 < a || t > b + 2000)
			fail_msg("timestamp %llu outside [%llu, %llu] by more than 2 us",
				 (unsigned long long)t, (unsigned long long)a, (unsigned long long)b);
		/* two reads 1 ms apart are in order whatever the anchors */
		if (t > prev + 1000000) {
			assert_true(t > prev);
			prev = t;
		}
		n++;
	}
	assert_true(n > 1000);
	assert_int_equal(ms_clock_uses_tsc(), strcmp(cs, "tsc\n") == 0);
}

/* --- flushes on the event loop ------------------------------------------------------------ */

static void on_timer(uv_timer_t *t)
{
	(void)t;
	add(MS_BATCH_RAFT, MS_REC_RAFT_APPLY, 11);
}

static void on_keep(uv_timer_t *t)
{
	(void)t;
	/* the window flushed well before this */
	assert_int_equal(ms_trace_pending(MS_BATCH_RAFT), 0);
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
	/* a record made in a callback waits for the window (about 1 ms), not for a busy loop's
	 * next iteration, and reaches its probe even when the loop has nothing else to do */
	uv_timer_init(&loop, &timer);
	uv_timer_start(&timer, on_timer, 0, 0);
	uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(ms_trace_pending(MS_BATCH_RAFT), 1);
	assert_string_equal(log_buf, "");
	uv_timer_start(&timer, on_keep, 20, 0); /* keeps the loop running 20 ms */
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(ms_trace_pending(MS_BATCH_RAFT), 0);
	assert_int_equal(nbatches, 1);
	assert_string_equal(log_buf, "raft[1]: 50/11/110/1/2/3; | ");
	uv_close((uv_handle_t *)&timer, NULL);
	/* stop flushes what is left and closes the handles */
	add(MS_BATCH_GRPC, MS_REC_GRPC_PANIC, 12);
	ms_trace_stop();
	assert_string_equal(log_buf, "raft[1]: 50/11/110/1/2/3; | grpc[1]: 3/12/120/1/2/3; | ");
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buffers),
		cmocka_unit_test(test_semaphores),
		cmocka_unit_test(test_read_and_write_stamps),
		cmocka_unit_test(test_gauges),
		cmocka_unit_test(test_loop_flush),
		cmocka_unit_test(test_clock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
