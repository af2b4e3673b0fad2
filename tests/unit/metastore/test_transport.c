/* Unit tests for the peer transport (metastore/raft/transport.c, peer_conn.c) on a libuv loop:
 * a member alone listens nowhere; two members exchange 16 MiB exactly (with a reader that
 * waits, so the pumps stop and resume reading) over plain TCP and over
 * mutual TLS; a non-member and a certificate of another CA are refused with one log line; a
 * members query is answered (plain and TLS); the members let in follow the table. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "peer_certs.h"
#include "raft/member_fetch.h"
#include "raft/transport_priv.h"

/* bytes sent through a connection: many TLS records and reads, and more than the pumps
 * queue (MS_PEER_QUEUE_MAX) before they stop reading */
#define BIG (16u << 20)

static char got[BIG];

struct world {
	uv_loop_t loop;
	uv_timer_t tick; /* keeps uv_run(UV_RUN_ONCE) from blocking forever */
	struct ms_raft_peer members[2];
	uv_stream_t *accepted, *connected;
	uint64_t accepted_id;
	char accepted_addr[64];
	int connect_status, connects, closes;
	size_t got_len;
	char log[32][512];
	int n_log;
	bool single; /* one transport in the test */
	int ticks;
};

static struct world w;

/* Incoming connections of t still in their handshake. */
static unsigned handshaking(struct raft_uv_transport *t)
{
	unsigned n = 0;

	for (struct ms_peer_conn *c = ((struct ms_peer_transport *)t->impl)->conns; c; c = c->next)
		n += !c->outgoing && c->state != MS_PC_PUMP && c->state != MS_PC_CLOSING;
	return n;
}

/* A loopback port nothing listens on right now. */
static unsigned free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

static void on_log(void *arg, const char *line)
{
	(void)arg;
	if (w.n_log < 32)
		snprintf(w.log[w.n_log], sizeof(w.log[0]), "%s", line);
	w.n_log++;
}

static void on_tick(uv_timer_t *t)
{
	(void)t;
}

/* Runs the loop until cond() holds (bounded: 500 ticks of 10 ms). */
static void run_until(bool (*cond)(void))
{
	for (int i = 0; i < 500 && !cond(); i++)
		uv_run(&w.loop, UV_RUN_ONCE);
}

static bool both_ends(void)
{
	return w.accepted && w.connects;
}

static bool all_got(void)
{
	return w.got_len == BIG;
}

static bool logged(void)
{
	return w.n_log > 0;
}

static bool logged_twice(void)
{
	return w.n_log > 1;
}

static bool connected_once(void)
{
	return w.connects > 0;
}

static bool all_closed(void)
{
	return w.closes == 2 || (w.closes == 1 && w.single);
}

static void alloc_got(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	(void)h;
	(void)suggested;
	b->base = got + w.got_len;
	b->len = BIG - w.got_len;
}

static void on_got(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
	(void)s;
	(void)b;
	if (nread > 0)
		w.got_len += (size_t)nread;
}

static void on_accept(struct raft_uv_transport *t, raft_id id, const char *address,
		      uv_stream_t *stream)
{
	(void)t;
	w.accepted = stream;
	w.accepted_id = id;
	snprintf(w.accepted_addr, sizeof(w.accepted_addr), "%s", address);
}

static void on_connect(struct raft_uv_connect *req, uv_stream_t *stream, int status)
{
	(void)req;
	w.connected = stream;
	w.connect_status = status;
	w.connects++;
}

static void on_closed(struct raft_uv_transport *t)
{
	(void)t;
	w.closes++;
}

static void world_init(void)
{
	memset(&w, 0, sizeof(w));
	assert_int_equal(uv_loop_init(&w.loop), 0);
	uv_timer_init(&w.loop, &w.tick);
	uv_timer_start(&w.tick, on_tick, 10, 10);
	w.members[0] = (struct ms_raft_peer){ .id = 0x11, .name = "n1" };
	w.members[1] = (struct ms_raft_peer){ .id = 0x22, .name = "n2" };
	snprintf(w.members[0].address, sizeof(w.members[0].address), "127.0.0.1:%u", free_port());
	snprintf(w.members[1].address, sizeof(w.members[1].address), "127.0.0.1:%u", free_port());
}

/* Closes what the test holds and the transports, then the loop: nothing may be left open. */
static void world_close(struct raft_uv_transport *t, int n)
{
	w.single = n == 1;
	if (w.accepted)
		uv_close((uv_handle_t *)w.accepted, (uv_close_cb)raft_free);
	if (w.connected)
		uv_close((uv_handle_t *)w.connected, (uv_close_cb)raft_free);
	for (int i = 0; i < n; i++)
		t[i].close(&t[i], on_closed);
	run_until(all_closed);
	assert_int_equal(w.closes, n);
	for (int i = 0; i < n; i++)
		ms_peer_transport_free(&t[i]);
	uv_close((uv_handle_t *)&w.tick, NULL);
	uv_run(&w.loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&w.loop), 0);
}

/* A transport for member `self` (its view of the members: `members`, n of them). */
static void make(struct raft_uv_transport *t, uint64_t self, const char *self_addr,
		 const struct ms_raft_peer *members, size_t n, const char *cert, bool tls)
{
	char crt[32], key[32], err[256];
	struct ms_peer_opts o = { .tls = tls, .log = on_log };

	snprintf(crt, sizeof(crt), "%s.crt", cert);
	snprintf(key, sizeof(key), "%s.key", cert);
	o.tls_cfg = (struct ms_tls_cfg){ .cert_file = path(crt), .key_file = path(key),
					 .ca_file = path("ca.crt"), .client_cert_auth = true };
	assert_int_equal(ms_peer_transport_init(t, &w.loop, members, n, self, &o, err,
						sizeof(err)), 0);
	assert_int_equal(t->init(t, self, self_addr), 0);
	assert_int_equal(t->listen(t, on_accept), 0);
}

static void test_alone(void **state)
{
	struct raft_uv_transport t;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd;

	(void)state;
	world_init();
	make(&t, 0x11, w.members[0].address, w.members, 1, "n1", false);
	sa.sin_port = htons((uint16_t)atoi(strchr(w.members[0].address, ':') + 1));
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), -1);
	assert_int_equal(errno, ECONNREFUSED);
	close(fd);
	world_close(&t, 1);
}

/* n2 connects to n1 and sends BIG bytes; n1 gets them, in order, from n2's id and address. */
static void test_exchange(void **state)
{
	static char sent[BIG];
	struct raft_uv_connect req;

	(void)state;
	for (size_t i = 0; i < BIG; i++)
		sent[i] = (char)(i * 7 + i / 4096);
	for (int tls = 0; tls <= 1; tls++) {
		struct raft_uv_transport t[2];
		uv_write_t wr;
		uv_buf_t b = uv_buf_init(sent, BIG);

		world_init();
		make(&t[0], 0x11, w.members[0].address, w.members, 2, "n1", tls);
		make(&t[1], 0x22, w.members[1].address, w.members, 2, "n2", tls);
		assert_int_equal(t[1].connect(&t[1], &req, 0x11, w.members[0].address, on_connect), 0);
		run_until(both_ends);
		assert_int_equal(w.connect_status, 0);
		assert_non_null(w.connected);
		assert_non_null(w.accepted);
		assert_int_equal(w.accepted_id, 0x22);
		assert_string_equal(w.accepted_addr, w.members[1].address);
		assert_int_equal(uv_write(&wr, w.connected, &b, 1, NULL), 0);
		/* nobody reads for 50 ticks: the bytes back up into every queue on the way, and
		 * the pumps stop reading until they drain */
		for (int k = 0; k < 50; k++)
			uv_run(&w.loop, UV_RUN_ONCE);
		uv_read_start(w.accepted, alloc_got, on_got);
		run_until(all_got);
		assert_int_equal(w.got_len, BIG);
		assert_memory_equal(got, sent, BIG);
		assert_int_equal(w.n_log, 0);
		world_close(t, 2);
	}
}

/* Refused: a non-member's id (plain and TLS), a certificate of another CA (TLS). */
static void test_refused(void **state)
{
	static const struct {
		bool tls;
		uint64_t id;
		const char *cert;
		const char *why; /* the log line after "refused peer connection from 127.0.0.1:PORT: " */
		const char *cli_why; /* the connector's line after "peer connection to ADDR failed: " */
	} cases[] = {
		{ false, 0x99, "n2", "server id 0000000000000099 (address '127.0.0.1:1') is not a member",
		  NULL },
		{ true, 0x99, "n2", "server id 0000000000000099 (address '127.0.0.1:1') is not a member",
		  NULL },
		/* TLS 1.3: the connector learns of the refusal after its own handshake ended */
		{ true, 0x22, "rogue", "TLS handshake: certificate: unable to get local issuer certificate",
		  "TLS: error:0A000418:SSL routines::tlsv1 alert unknown ca" },
	};
	struct raft_uv_connect req;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct raft_uv_transport t[2];
		struct ms_raft_peer self = { .id = cases[i].id, .address = "127.0.0.1:1" };
		struct ms_raft_peer view[2];
		const char *colon;

		world_init();
		view[0] = w.members[0]; /* the impostor's own view: n1 and itself */
		view[1] = self;
		make(&t[0], 0x11, w.members[0].address, w.members, 2, "n1", cases[i].tls);
		make(&t[1], cases[i].id, "127.0.0.1:1", view, 2, cases[i].cert, cases[i].tls);
		assert_int_equal(t[1].connect(&t[1], &req, 0x11, w.members[0].address, on_connect), 0);
		run_until(cases[i].cli_why ? logged_twice : logged);
		assert_int_equal(w.n_log, cases[i].cli_why ? 2 : 1);
		if (cases[i].cli_why) {
			char want[256];

			snprintf(want, sizeof(want), "peer connection to %s failed: %s",
				 w.members[0].address, cases[i].cli_why);
			assert_string_equal(w.log[1], want);
		}
		assert_null(w.accepted);
		assert_memory_equal(w.log[0], "refused peer connection from 127.0.0.1:", 39);
		colon = strchr(w.log[0] + 39, ':');
		assert_non_null(colon);
		assert_string_equal(colon + 2, cases[i].why);
		/* the connector learned its connection was made (its handshake went out) or not */
		run_until(connected_once);
		assert_int_equal(w.connects, 1);
		world_close(t, 2);
	}
}

static bool six_logged(void)
{
	return w.n_log >= 6;
}

static bool second_passed(void)
{
	return w.ticks >= 2;
}

static void on_second(uv_timer_t *t)
{
	(void)t;
	w.ticks++;
}

/* 70 silent connections: the 64 newest stay, the 6 oldest are pushed out, one line each;
 * then 25 lines in one moment: 20 logged, the other 5 counted with the next line a second on. */
static void test_flood(void **state)
{
	struct raft_uv_transport t;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	uv_timer_t second;
	int fds[70];

	(void)state;
	world_init();
	make(&t, 0x11, w.members[0].address, w.members, 2, "n1", false);
	sa.sin_port = htons((uint16_t)atoi(strchr(w.members[0].address, ':') + 1));
	for (int i = 0; i < 70; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		assert_int_equal(connect(fds[i], (struct sockaddr *)&sa, sizeof(sa)), 0);
	}
	run_until(six_logged);
	assert_int_equal(w.n_log, 6);
	for (int i = 0; i < 6; i++) {
		const char *colon = strchr(w.log[i] + 39, ':');

		assert_memory_equal(w.log[i], "refused peer connection from 127.0.0.1:", 39);
		assert_string_equal(colon, ": pushed out: 64 connections in their handshake at once");
	}
	assert_int_equal(handshaking(&t), 64);

	/* a second on, a new second of logging; uv_now() holds still within one callback */
	uv_timer_init(&w.loop, &second);
	uv_timer_start(&second, on_second, 600, 600);
	run_until(second_passed);
	w.n_log = 0;
	for (int i = 0; i < 25; i++)
		ms_peer_transport_log(t.impl, "line");
	assert_int_equal(w.n_log, 20);
	w.ticks = 0;
	run_until(second_passed);
	uv_close((uv_handle_t *)&second, NULL);
	ms_peer_transport_log(t.impl, "next");
	assert_int_equal(w.n_log, 22);
	assert_string_equal(w.log[20], "5 more peer connection lines not logged");
	assert_string_equal(w.log[21], "next");
	world_close(&t, 1);
	for (int i = 0; i < 70; i++) /* after: their closes would be logged */
		close(fds[i]);
}

/* A joining member's members query, run on its own thread (ms_members_fetch blocks) while
 * the loop serves it. */
struct fetch {
	const char *address;
	struct ms_tls_ctx *tls;
	int rc;
	uint64_t cluster_id;
	struct ms_members m;
	char err[256];
	volatile bool done;
};

static struct fetch *fetching;

static void *fetch_main(void *arg)
{
	struct fetch *f = arg;

	f->rc = ms_members_fetch(f->address, f->tls, 2000, &f->cluster_id, &f->m, f->err,
				 sizeof(f->err));
	f->done = true;
	return NULL;
}

static bool fetched(void)
{
	return fetching->done;
}

static void run_fetch(struct fetch *f)
{
	pthread_t th;

	fetching = f;
	assert_int_equal(pthread_create(&th, NULL, fetch_main, f), 0);
	run_until(fetched);
	assert_int_equal(pthread_join(th, NULL), 0);
}

/* A members query gets the info bytes set on the transport (plain and over mutual TLS),
 * then the connection ends; before any info is set the query is refused (one log line). */
static void test_members_query(void **state)
{
	(void)state;
	for (int tls = 0; tls <= 1; tls++) {
		struct raft_uv_transport t;
		struct ms_members *table = calloc(1, sizeof(*table));
		struct fetch *f = calloc(1, sizeof(*f));
		struct ms_tls_cfg cfg;
		struct ms_buf b = { 0 };
		char err[256];

		world_init();
		make(&t, 0x11, w.members[0].address, w.members, 2, "n1", tls);
		/* path() keeps its last four results: made after make()'s */
		cfg = (struct ms_tls_cfg){ .cert_file = path("n2.crt"), .key_file = path("n2.key"),
					   .ca_file = path("ca.crt") };
		if (tls)
			assert_int_equal(ms_tls_ctx_new(&cfg, &f->tls, err, sizeof(err)), 0);
		f->address = w.members[0].address;
		run_fetch(f);
		assert_int_equal(f->rc, -ECONNRESET);
		assert_int_equal(w.n_log, 1);
		assert_string_equal(strstr(w.log[0], ": members query"),
				    ": members query before the member list is known");
		ms_members_init(table, w.members, 2);
		table->v[1].learner = true;
		assert_int_equal(ms_members_info_encode(0xc1, table, &b), 0);
		assert_int_equal(ms_peer_transport_set_info(&t, b.data, b.len), 0);
		f->done = false;
		run_fetch(f);
		assert_int_equal(f->rc, 0);
		assert_int_equal(f->cluster_id, 0xc1);
		assert_memory_equal(&f->m, table, sizeof(*table));
		assert_int_equal(w.n_log, 1); /* an answered query is no refusal */
		ms_tls_ctx_free(f->tls);
		ms_buf_free(&b);
		free(f);
		free(table);
		world_close(&t, 1);
	}
}

/* The members the transport lets in follow the table: an added member is accepted, a
 * removed one refused, and libraft's connects go to the table's address for the id. */
static void test_members_follow(void **state)
{
	struct raft_uv_transport t[2];
	struct raft_uv_connect req;
	struct ms_raft_peer alone[1];

	(void)state;
	world_init();
	alone[0] = w.members[0];
	/* n1 starts alone (no listener), then n2 is added: it listens and lets n2 in */
	make(&t[0], 0x11, w.members[0].address, alone, 1, "n1", false);
	make(&t[1], 0x22, w.members[1].address, w.members, 2, "n2", false);
	assert_int_equal(ms_peer_transport_set_members(&t[0], w.members, 2), 0);
	/* the address libraft passes is ignored: the table's is dialled */
	assert_int_equal(t[1].connect(&t[1], &req, 0x11, "127.0.0.1:1", on_connect), 0);
	run_until(both_ends);
	assert_int_equal(w.connect_status, 0);
	assert_int_equal(w.accepted_id, 0x22);
	assert_int_equal(w.n_log, 0);
	uv_close((uv_handle_t *)w.accepted, (uv_close_cb)raft_free);
	uv_close((uv_handle_t *)w.connected, (uv_close_cb)raft_free);
	w.accepted = w.connected = NULL;
	/* n2 removed on n1: not dialled, and its next connection is refused */
	assert_int_equal(ms_peer_transport_set_members(&t[0], alone, 1), 0);
	assert_int_equal(t[0].connect(&t[0], &req, 0x22, w.members[1].address, on_connect),
			 RAFT_NOCONNECTION);
	w.connects = 0;
	assert_int_equal(t[1].connect(&t[1], &req, 0x11, w.members[0].address, on_connect), 0);
	run_until(logged);
	assert_int_equal(w.n_log, 1);
	assert_non_null(strstr(w.log[0], "server id 0000000000000022 (address '"));
	assert_non_null(strstr(w.log[0], "') is not a member"));
	run_until(connected_once);
	world_close(t, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alone),
		cmocka_unit_test(test_exchange),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_flood),
		cmocka_unit_test(test_members_query),
		cmocka_unit_test(test_members_follow),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
