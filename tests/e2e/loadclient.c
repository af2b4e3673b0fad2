/* e2e client: Watch streams that stop reading then check every event; Puts; connection floods. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#include "rpc.pb-c.h"

#define MAX_STREAMS 256
#define MAX_WATCHERS 256

struct bytes {
	uint8_t *p;
	size_t len, off;
};

struct wstream {
	int32_t id;
	struct bytes out; /* framed create requests not yet sent */
	struct bytes in;  /* response bytes not yet parsed */
	int64_t ids[MAX_WATCHERS]; /* watch id of the k-th create, in answer order */
	int64_t seen[MAX_WATCHERS]; /* events received per watcher */
	int created;
};

struct client {
	int fd;
	nghttp2_session *h2;
	struct wstream st[MAX_STREAMS];
	int nst, nwatch;
	const char *prefix;
	int64_t first_rev, expect;
	int64_t done;     /* watchers that have all their events */
	int64_t events;   /* events received in all */
	bool want_compacted; /* each watcher is to end canceled by a compaction */
	int64_t compacted;
	bool failed, closed;
	/* put mode */
	int32_t put_stream;
	int64_t put_rev;
	int put_status;
};

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void bad(struct client *c, const char *what, long long a, long long b)
{
	if (!c->failed)
		fprintf(stderr, "loadclient: %s (%lld, %lld)\n", what, a, b);
	c->failed = true;
}

static int append(struct bytes *b, const uint8_t *p, size_t n)
{
	uint8_t *q = realloc(b->p, b->len + n);

	if (!q)
		return -ENOMEM;
	b->p = q;
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

/* Appends `m` as one framed gRPC message. */
static int append_msg(struct bytes *b, const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(n + 5);
	int err;

	if (!buf)
		return -ENOMEM;
	buf[0] = 0;
	buf[1] = (uint8_t)(n >> 24);
	buf[2] = (uint8_t)(n >> 16);
	buf[3] = (uint8_t)(n >> 8);
	buf[4] = (uint8_t)n;
	protobuf_c_message_pack(m, buf + 5);
	err = append(b, buf, n + 5);
	free(buf);
	return err;
}

static struct wstream *stream_of(struct client *c, int32_t id)
{
	for (int i = 0; i < c->nst; i++)
		if (c->st[i].id == id)
			return &c->st[i];
	return NULL;
}

static void on_watch_response(struct client *c, struct wstream *s, const Etcdserverpb__WatchResponse *r)
{
	int k;

	if (r->canceled && r->compact_revision > 0 && c->want_compacted) {
		/* etcd's answer to a watcher whose next revision was compacted away */
		c->compacted++;
		c->done++;
	} else if (r->canceled || r->compact_revision) {
		bad(c, r->cancel_reason && *r->cancel_reason ? r->cancel_reason : "watch canceled",
		    (long long)r->watch_id, (long long)r->compact_revision);
	}
	if (r->created) {
		if (s->created >= c->nwatch)
			bad(c, "more created responses than creates", s->created, c->nwatch);
		else
			s->ids[s->created++] = r->watch_id;
	}
	for (k = 0; k < s->created && s->ids[k] != r->watch_id; k++)
		;
	if (r->n_events && k == s->created) {
		bad(c, "events for an unknown watch id", (long long)r->watch_id, 0);
		return;
	}
	for (size_t i = 0; i < r->n_events; i++) {
		const Mvccpb__Event *e = r->events[i];
		int64_t want = c->first_rev + s->seen[k];

		/* exactly once, in order: the next revision of the puts, nothing else */
		if (!e->kv || e->kv->mod_revision != want || e->type != MVCCPB__EVENT__EVENT_TYPE__PUT ||
		    e->kv->key.len < strlen(c->prefix) ||
		    memcmp(e->kv->key.data, c->prefix, strlen(c->prefix)))
			bad(c, "event out of order, repeated or foreign: revision, expected",
			    e->kv ? (long long)e->kv->mod_revision : -1, (long long)want);
		s->seen[k]++;
		c->events++;
		if (s->seen[k] == c->expect)
			c->done++;
		else if (s->seen[k] > c->expect)
			bad(c, "more events than puts", (long long)s->seen[k], (long long)c->expect);
	}
}

static int on_data(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
		   void *user)
{
	struct client *c = user;
	struct wstream *s = stream_of(c, id);

	(void)h2, (void)flags;
	if (id == c->put_stream) {
		if (len >= 5) {
			Etcdserverpb__PutResponse *r =
				etcdserverpb__put_response__unpack(NULL, len - 5, data + 5);

			if (r && r->header)
				c->put_rev = r->header->revision;
			etcdserverpb__put_response__free_unpacked(r, NULL);
		}
		return 0;
	}
	if (!s || append(&s->in, data, len))
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	while (s->in.len - s->in.off >= 5) {
		const uint8_t *p = s->in.p + s->in.off;
		size_t n = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
		Etcdserverpb__WatchResponse *r;

		if (s->in.len - s->in.off - 5 < n)
			break;
		r = etcdserverpb__watch_response__unpack(NULL, n, p + 5);
		if (!r)
			bad(c, "undecodable WatchResponse of bytes", (long long)n, 0);
		else
			on_watch_response(c, s, r);
		etcdserverpb__watch_response__free_unpacked(r, NULL);
		s->in.off += 5 + n;
	}
	memmove(s->in.p, s->in.p + s->in.off, s->in.len - s->in.off);
	s->in.len -= s->in.off;
	s->in.off = 0;
	return 0;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *f, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *user)
{
	struct client *c = user;

	(void)h2, (void)flags;
	if (namelen == 11 && !memcmp(name, "grpc-status", 11)) {
		if (f->hd.stream_id == c->put_stream)
			c->put_status = atoi((const char *)value);
		else
			bad(c, "a watch stream ended with grpc-status", atoi((const char *)value),
			    (long long)valuelen);
	}
	return 0;
}

static int on_close(nghttp2_session *h2, int32_t id, uint32_t err, void *user)
{
	struct client *c = user;

	(void)h2;
	if (id == c->put_stream)
		c->put_stream = 0;
	else
		bad(c, "a watch stream closed: stream, error", id, err);
	return 0;
}

static ssize_t on_send(nghttp2_session *h2, const uint8_t *data, size_t len, int flags, void *user)
{
	struct client *c = user;
	ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);

	(void)h2, (void)flags;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return NGHTTP2_ERR_WOULDBLOCK;
	return n < 0 ? NGHTTP2_ERR_CALLBACK_FAILURE : n;
}

/* Copies what is left of the body queue `src` into buf. */
static size_t body_take(nghttp2_data_source *src, uint8_t *buf, size_t len)
{
	struct bytes *b = src->ptr;
	size_t n = b->len - b->off;

	if (n > len)
		n = len;
	memcpy(buf, b->p + b->off, n);
	b->off += n;
	return n;
}

/* A watch stream's body: once the queued creates are out it defers, the stream stays open. */
static ssize_t body_read(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t len,
			 uint32_t *flags, nghttp2_data_source *src, void *user)
{
	size_t n = body_take(src, buf, len);

	(void)h2, (void)id, (void)flags, (void)user;
	return n ? (ssize_t)n : NGHTTP2_ERR_DEFERRED;
}

/* A unary body: ends the stream with its last byte. */
static ssize_t body_read_end(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t len,
			     uint32_t *flags, nghttp2_data_source *src, void *user)
{
	struct bytes *b = src->ptr;
	size_t n = body_take(src, buf, len);

	(void)h2, (void)id, (void)user;
	if (b->off == b->len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static int32_t submit(struct client *c, const char *path, struct bytes *body, bool ends)
{
	nghttp2_nv nv[] = {
		{ (uint8_t *)":method", (uint8_t *)"POST", 7, 4, 0 },
		{ (uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0 },
		{ (uint8_t *)":authority", (uint8_t *)"127.0.0.1", 10, 9, 0 },
		{ (uint8_t *)":path", (uint8_t *)path, 5, strlen(path), 0 },
		{ (uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, 0 },
		{ (uint8_t *)"te", (uint8_t *)"trailers", 2, 8, 0 },
	};
	nghttp2_data_provider dp = { .source.ptr = body,
				     .read_callback = ends ? body_read_end : body_read };

	return nghttp2_submit_request(c->h2, NULL, nv, 6, &dp, NULL);
}

static int connect_to(struct client *c, uint16_t port, uint32_t window)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	nghttp2_settings_entry iv[] = { { NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, window } };
	nghttp2_session_callbacks *cbs;
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof(a)))
		return -errno;
	fcntl(c->fd, F_SETFL, O_NONBLOCK);
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (nghttp2_session_callbacks_new(&cbs))
		return -ENOMEM;
	nghttp2_session_callbacks_set_send_callback(cbs, on_send);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
	if (nghttp2_session_client_new(&c->h2, cbs, c))
		return -ENOMEM;
	nghttp2_session_callbacks_del(cbs);
	if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 1) ||
	    nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, (int32_t)window))
		return -EINVAL;
	return 0;
}

/* Sends what is queued and, with `read`, processes what arrived, waiting up to 50 ms. */
static int io(struct client *c, bool read)
{
	struct pollfd p = { .fd = c->fd, .events = (short)(read ? POLLIN : 0) };
	uint8_t buf[65536];
	ssize_t n;

	if (nghttp2_session_send(c->h2))
		return -EIO;
	if (nghttp2_session_want_write(c->h2))
		p.events |= POLLOUT;
	if (poll(&p, 1, 50) < 0)
		return -errno;
	while (read && (n = recv(c->fd, buf, sizeof(buf), 0)) > 0)
		if (nghttp2_session_mem_recv(c->h2, buf, (size_t)n) != n)
			return -EPROTO;
	if (read && n == 0)
		return -ECONNRESET;
	return nghttp2_session_send(c->h2) ? -EIO : 0;
}

static int cmd_put(uint16_t port, int n, size_t size, const char *prefix)
{
	struct client c = { .fd = -1 };
	char key[256];
	uint8_t *val = malloc(size);
	int64_t first = 0;
	long t0 = now_ms();

	if (!val || connect_to(&c, port, 65535))
		return 1;
	memset(val, 'x', size);
	for (int i = 0; i < n; i++) {
		Etcdserverpb__PutRequest r = ETCDSERVERPB__PUT_REQUEST__INIT;
		struct bytes body = { 0 };

		snprintf(key, sizeof(key), "%s%06d", prefix, i);
		r.key.data = (uint8_t *)key;
		r.key.len = strlen(key);
		r.value.data = val;
		r.value.len = size;
		if (append_msg(&body, &r.base))
			return 1;
		c.put_status = -1;
		c.put_stream = submit(&c, "/etcdserverpb.KV/Put", &body, true);
		while (c.put_stream > 0 && now_ms() - t0 < 120000)
			if (io(&c, true))
				break;
		free(body.p);
		if (c.put_status != 0) {
			fprintf(stderr, "loadclient: put %d failed (grpc-status %d)\n", i, c.put_status);
			return 1;
		}
		if (i == 0)
			first = c.put_rev;
	}
	printf("put %d first_rev %lld last_rev %lld\n", n, (long long)first, (long long)c.put_rev);
	return 0;
}

static int cmd_watch(char **av)
{
	struct client c = { .fd = -1 };
	uint16_t port = (uint16_t)atoi(av[0]);
	int nst = atoi(av[1]);
	int64_t start_rev = atoll(av[4]);
	const char *go_file = av[7];
	long timeout_ms = atol(av[8]) * 1000L, t0 = now_ms();
	uint32_t window = (uint32_t)atol(av[9]);
	char end[256];
	int created = 0;

	c.nwatch = atoi(av[2]);
	c.prefix = av[3];
	c.expect = atoll(av[5]);
	c.first_rev = atoll(av[6]);
	c.want_compacted = av[10] && !strcmp(av[10], "compacted");
	if (nst < 1 || nst > MAX_STREAMS || c.nwatch < 1 || c.nwatch > MAX_WATCHERS ||
	    strlen(c.prefix) + 1 >= sizeof(end) || !*c.prefix || connect_to(&c, port, window))
		return 2;
	/* [prefix, prefix with its last byte + 1): the etcd prefix range */
	snprintf(end, sizeof(end), "%s", c.prefix);
	end[strlen(end) - 1]++;
	for (int i = 0; i < nst; i++) {
		Etcdserverpb__WatchRequest w = ETCDSERVERPB__WATCH_REQUEST__INIT;
		Etcdserverpb__WatchCreateRequest cr = ETCDSERVERPB__WATCH_CREATE_REQUEST__INIT;

		w.request_union_case = ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST;
		w.create_request = &cr;
		cr.key.data = (uint8_t *)c.prefix;
		cr.key.len = strlen(c.prefix);
		cr.range_end.data = (uint8_t *)end;
		cr.range_end.len = strlen(end);
		cr.start_revision = start_rev;
		for (int k = 0; k < c.nwatch; k++)
			if (append_msg(&c.st[i].out, &w.base))
				return 1;
		c.st[i].id = submit(&c, "/etcdserverpb.Watch/Watch", &c.st[i].out, false);
		if (c.st[i].id < 0)
			return 1;
		c.nst++;
	}
	while (created < nst * c.nwatch && !c.failed && now_ms() - t0 < timeout_ms) {
		if (io(&c, true))
			break;
		created = 0;
		for (int i = 0; i < nst; i++)
			created += c.st[i].created;
	}
	printf("created %d\n", created);
	fflush(stdout);
	if (created != nst * c.nwatch || c.failed)
		return 1;
	/* not reading: the server sees a client that takes nothing */
	while (access(go_file, F_OK) && now_ms() - t0 < timeout_ms)
		usleep(50000);
	while (c.done < (int64_t)nst * c.nwatch && !c.failed && now_ms() - t0 < timeout_ms)
		if (io(&c, true))
			break;
	printf("events %lld watchers %lld complete %lld compacted %lld\n", (long long)c.events,
	       (long long)nst * c.nwatch, (long long)c.done, (long long)c.compacted);
	return c.failed || c.done != (int64_t)nst * c.nwatch ||
	       (c.want_compacted && c.compacted != c.done);
}

/* A frame header: 24-bit length, type, flags, stream id. */
static size_t h2_frame(uint8_t *out, uint8_t type, uint8_t flags, uint32_t stream, size_t len)
{
	out[0] = (uint8_t)(len >> 16);
	out[1] = (uint8_t)(len >> 8);
	out[2] = (uint8_t)len;
	out[3] = type;
	out[4] = flags;
	out[5] = (uint8_t)(stream >> 24 & 0x7f);
	out[6] = (uint8_t)(stream >> 16);
	out[7] = (uint8_t)(stream >> 8);
	out[8] = (uint8_t)stream;
	return 9;
}

/* The preface, an empty SETTINGS frame and the HEADERS (END_HEADERS) of a Put on stream 1,
 * HPACK literals without indexing, then a DATA frame announcing a 100-byte message. */
static size_t slow_put_start(uint8_t *out)
{
	static const char *const hv[][2] = {
		{ ":method", "POST" }, { ":scheme", "http" }, { ":path", "/etcdserverpb.KV/Put" },
		{ ":authority", "127.0.0.1" }, { "content-type", "application/grpc" },
		{ "te", "trailers" },
	};
	uint8_t block[256];
	size_t n = 0, o;

	for (size_t i = 0; i < sizeof(hv) / sizeof(hv[0]); i++) {
		block[n++] = 0;
		block[n++] = (uint8_t)strlen(hv[i][0]);
		memcpy(block + n, hv[i][0], strlen(hv[i][0]));
		n += strlen(hv[i][0]);
		block[n++] = (uint8_t)strlen(hv[i][1]);
		memcpy(block + n, hv[i][1], strlen(hv[i][1]));
		n += strlen(hv[i][1]);
	}
	memcpy(out, NGHTTP2_CLIENT_MAGIC, NGHTTP2_CLIENT_MAGIC_LEN);
	o = NGHTTP2_CLIENT_MAGIC_LEN;
	o += h2_frame(out + o, NGHTTP2_SETTINGS, 0, 0, 0);
	o += h2_frame(out + o, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 1, n);
	memcpy(out + o, block, n);
	o += n;
	o += h2_frame(out + o, NGHTTP2_DATA, 0, 1, 5);
	memcpy(out + o, "\0\0\0\0\x64", 5);
	return o + 5;
}

/*
 * Opens n connections and holds them until killed, writing n to `ready` once all are open.
 * silent: sends nothing; handshake: the preface and an empty SETTINGS, then nothing;
 * slowpreface: the preface a byte a second; slowbody: a Put whose body comes a byte a second.
 */
static int cmd_flood(uint16_t port, int n, const char *mode, const char *ready)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	bool slowpreface = !strcmp(mode, "slowpreface"), slowbody = !strcmp(mode, "slowbody");
	uint8_t start[512], byte[10];
	size_t start_len = 0;
	int *fd = calloc((size_t)n, sizeof(*fd));
	FILE *f;

	if (!fd)
		return 1;
	if (!strcmp(mode, "handshake")) {
		memcpy(start, NGHTTP2_CLIENT_MAGIC, NGHTTP2_CLIENT_MAGIC_LEN);
		start_len = NGHTTP2_CLIENT_MAGIC_LEN + h2_frame(start + NGHTTP2_CLIENT_MAGIC_LEN,
								 NGHTTP2_SETTINGS, 0, 0, 0);
	} else if (slowbody) {
		start_len = slow_put_start(start);
	} else if (!slowpreface && strcmp(mode, "silent")) {
		return 2;
	}
	for (int i = 0; i < n; i++) {
		fd[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fd[i] < 0 || connect(fd[i], (struct sockaddr *)&a, sizeof(a)) ||
		    (start_len && send(fd[i], start, start_len, MSG_NOSIGNAL) != (ssize_t)start_len)) {
			fprintf(stderr, "loadclient: connection %d: %s\n", i, strerror(errno));
			return 1;
		}
	}
	f = fopen(ready, "w");
	if (!f || fprintf(f, "%d\n", n) < 0 || fclose(f))
		return 1;
	h2_frame(byte, NGHTTP2_DATA, 0, 1, 1);
	byte[9] = 'k';
	for (size_t sent = 0;; sent++) {
		sleep(1);
		for (int i = 0; i < n && (slowpreface || slowbody); i++) {
			if (fd[i] < 0)
				continue;
			/* a closed one is left alone: the server had its reasons */
			if ((slowpreface ? send(fd[i], NGHTTP2_CLIENT_MAGIC + sent % NGHTTP2_CLIENT_MAGIC_LEN,
						1, MSG_NOSIGNAL | MSG_DONTWAIT)
					 : send(fd[i], byte, sizeof(byte), MSG_NOSIGNAL | MSG_DONTWAIT)) < 0) {
				close(fd[i]);
				fd[i] = -1;
			}
		}
	}
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "put"))
		return cmd_put((uint16_t)atoi(argv[2]), atoi(argv[3]), (size_t)atol(argv[4]), argv[5]);
	if ((argc == 12 || argc == 13) && !strcmp(argv[1], "watch"))
		return cmd_watch(argv + 2);
	if (argc == 6 && !strcmp(argv[1], "flood"))
		return cmd_flood((uint16_t)atoi(argv[2]), atoi(argv[3]), argv[4], argv[5]);
	fprintf(stderr,
		"usage: loadclient put PORT N SIZE PREFIX\n"
		"       loadclient flood PORT N silent|handshake|slowpreface|slowbody READY_FILE\n"
		"       loadclient watch PORT STREAMS WATCHERS PREFIX START_REV EXPECT FIRST_REV "
		"GO_FILE TIMEOUT_S WINDOW [compacted]\n"
		"watch: opens STREAMS streams of WATCHERS watchers on PREFIX, prints `created N`,\n"
		"reads nothing until GO_FILE exists, then checks that every watcher gets EXPECT put\n"
		"events, revisions FIRST_REV on, each exactly once and in order (with `compacted`:\n"
		"the first ones of them, then a cancel carrying the compaction revision).\n");
	return 2;
}
