/* Unit tests for the once-only close callback of a raft_io (metastore/raft/io_once.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <raft.h>
#include <raft/uv.h>

#include "raft/io_once.h"

static unsigned user_calls;
static struct raft_io *user_io;

static void user_cb(struct raft_io *io)
{
	user_calls++;
	user_io = io;
}

/* An io whose close fires its callback `fires` times, as libraft 0.15's raft_uv can when a
 * segment writer's close ends last (0: the callback comes later, from fire_pending). */
static unsigned fires;
static raft_io_close_cb pending_cb;

static void fake_close(struct raft_io *io, raft_io_close_cb cb)
{
	pending_cb = cb;
	for (unsigned i = 0; i < fires; i++)
		cb(io);
}

static void test_table(void **state)
{
	static const struct {
		unsigned fires, later; /* fired inside close, fired after it returned */
		unsigned extra;
	} cases[] = {
		{ 1, 0, 0 },
		{ 2, 0, 1 }, /* both checks pass inside close */
		{ 0, 1, 0 }, /* the usual: the last part ends on a later loop turn */
		{ 1, 1, 1 }, /* the 0.15 race: a writer's close ends after the callback */
		{ 0, 3, 2 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ms_io_once w;

		memset(&w, 0, sizeof(w));
		w.io.close = fake_close;
		ms_io_once_wrap(&w);
		user_calls = 0;
		user_io = NULL;
		fires = cases[i].fires;
		assert_false(ms_io_once_closed(&w));
		w.io.close(&w.io, user_cb);
		for (unsigned k = 0; k < cases[i].later; k++)
			pending_cb(&w.io);
		assert_int_equal(user_calls, 1);
		assert_ptr_equal(user_io, &w.io);
		assert_int_equal(w.extra, cases[i].extra);
		assert_true(ms_io_once_closed(&w));
	}
}

/* ---- a real raft_uv, closed after appends --------------------------------------------- */

struct real {
	uv_loop_t loop;
	struct raft_uv_transport transport;
	struct ms_io_once w;
	unsigned closes;
	int pending;
};

static void on_append(struct raft_io_append *req, int status)
{
	struct real *r = req->data;

	if (status)
		assert_int_equal(status, RAFT_CANCELED); /* not yet written when the close came */
	r->pending--;
	free(req);
}

static void on_close(struct raft_io *io)
{
	struct real *r = (struct real *)((char *)io - offsetof(struct real, w.io));

	r->closes++;
	raft_uv_tcp_close(&r->transport);
}

/* The io closes once, with the segment it filled and the next one prepared; the loop
 * then runs dry, and only after that is the raft_uv state freed. */
static void test_raft_uv(void **state)
{
	char dir[] = "/tmp/ms-io-once-XXXXXX";
	static uint8_t payload[3000];
	struct real r;
	struct raft_configuration conf;
	struct raft_snapshot *snap = NULL;
	struct raft_entry *entries = NULL;
	raft_term term;
	raft_id vote;
	raft_index start;
	size_t n;
	char cmd[128];

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_non_null(mkdtemp(dir));
	assert_int_equal(uv_loop_init(&r.loop), 0);
	assert_int_equal(raft_uv_tcp_init(&r.transport, &r.loop), 0);
	assert_int_equal(raft_uv_init(&r.w.io, &r.loop, dir, &r.transport), 0);
	ms_io_once_wrap(&r.w);
	raft_uv_set_segment_size(&r.w.io, 8192);
	assert_int_equal(r.w.io.init(&r.w.io, 1, "127.0.0.1:1"), 0);
	raft_configuration_init(&conf);
	assert_int_equal(raft_configuration_add(&conf, 1, "127.0.0.1:1", RAFT_VOTER), 0);
	assert_int_equal(r.w.io.bootstrap(&r.w.io, &conf), 0);
	raft_configuration_close(&conf);
	assert_int_equal(r.w.io.load(&r.w.io, &term, &vote, &snap, &start, &entries, &n), 0);
	assert_int_equal(n, 1);
	raft_free(entries[0].batch);
	raft_free(entries);
	/* several segments fill up, so their writers close while appends go on; the last
	 * appends are still in flight when the close starts */
	for (unsigned i = 0; i < 12; i++) {
		struct raft_io_append *req = calloc(1, sizeof(*req));
		struct raft_entry e = { .term = 1, .type = RAFT_COMMAND,
					.buf = { .base = payload, .len = sizeof(payload) } };

		assert_non_null(req);
		req->data = &r;
		r.pending++;
		assert_int_equal(r.w.io.append(&r.w.io, req, &e, 1, on_append), 0);
		if (i % 3 == 2)
			uv_run(&r.loop, UV_RUN_NOWAIT);
	}
	r.w.io.close(&r.w.io, on_close);
	assert_int_equal(uv_run(&r.loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(r.closes, 1);
	assert_int_equal(r.pending, 0);
	assert_true(ms_io_once_closed(&r.w));
	raft_uv_close(&r.w.io);
	assert_int_equal(uv_loop_close(&r.loop), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_raft_uv),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
