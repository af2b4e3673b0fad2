/* The member list a joining member fetches from a peer: a members query on the peer port. */
#include "raft/member_fetch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "raft/peer_hs.h"
#include "raft/transport.h"
#include "raft/transport_priv.h"

#define INFO_MAX (1u << 20)

int ms_members_info_encode(uint64_t cluster_id, const struct ms_members *m, struct ms_buf *out)
{
	size_t at;
	int e = ms_put_u64(out, MS_MEMBERS_INFO_MAGIC);

	if (!e)
		e = ms_put_u64(out, 0); /* the body length, set below */
	at = out->len;
	if (!e)
		e = ms_put_u64(out, cluster_id);
	if (!e)
		e = ms_members_encode(m, out);
	if (!e)
		ms_le64_write(out->data + at - 8, out->len - at);
	return e;
}

int ms_members_info_decode(const uint8_t *p, size_t len, uint64_t *cluster_id,
			   struct ms_members *m)
{
	struct ms_reader r = { .p = p, .left = len };
	uint64_t body;

	if (len < 16)
		return -EAGAIN;
	if (ms_get_u64(&r) != MS_MEMBERS_INFO_MAGIC)
		return -EINVAL;
	body = ms_get_u64(&r);
	if (body > INFO_MAX)
		return -EINVAL;
	if (r.left < body)
		return -EAGAIN;
	r.left = body;
	*cluster_id = ms_get_u64(&r);
	if (r.bad || ms_members_decode(m, &r) || r.left)
		return -EINVAL;
	return 0;
}

/* A connected blocking socket to address, with send and receive timeouts; -errno. */
static int dial(const char *address, unsigned timeout_ms)
{
	struct sockaddr_in sa;
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	int fd, e;

	if (ms_peer_parse_addr(address, &sa))
		return -EINVAL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

static int send_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w ? -errno : -EPIPE;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Sends what the TLS session has for the network. */
static int tls_flush(int fd, struct ms_tls *s)
{
	uint8_t out[16384];

	while (ms_tls_out_pending(s)) {
		size_t n = ms_tls_out_take(s, out, sizeof(out));
		int e = send_all(fd, out, n);

		if (e)
			return e;
	}
	return 0;
}

/* Reads from fd into the TLS session (or, plain, into in). 0, or -errno (EOF: -ECONNRESET). */
static int recv_some(int fd, struct ms_tls *s, struct ms_buf *in)
{
	uint8_t b[16384];
	ssize_t n;

	do
		n = recv(fd, b, sizeof(b), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? -ETIMEDOUT : -errno;
	if (n == 0)
		return -ECONNRESET;
	return s ? ms_tls_feed(s, b, (size_t)n) : ms_buf_append(in, b, (size_t)n);
}

int ms_members_fetch(const char *address, struct ms_tls_ctx *tls, unsigned timeout_ms,
		     uint64_t *cluster_id, struct ms_members *m, char *err, size_t errlen)
{
	uint8_t hs[MS_PEER_HS_PREAMBLE + MS_PEER_HS_MAX_ADDR], dec[16384];
	ssize_t hn = ms_peer_hs_encode(MS_PEER_QUERY_ID, MS_PEER_QUERY_MEMBERS, NULL, hs,
				       sizeof(hs));
	struct ms_tls *s = NULL;
	struct ms_buf in = { 0 };
	char ip[64], why[256] = "";
	int fd, e;

	snprintf(ip, sizeof(ip), "%s", address);
	if (strrchr(ip, ':'))
		*strrchr(ip, ':') = '\0';
	fd = dial(address, timeout_ms);
	if (fd < 0) {
		snprintf(err, errlen, "cannot reach peer %s: %s", address, strerror(-fd));
		return fd;
	}
	e = hn < 0 ? -EINVAL : 0;
	if (!e && tls) {
		e = ms_tls_new(tls, false, ip, &s);
		while (!e && (e = ms_tls_handshake(s, why, sizeof(why))) == -EAGAIN) {
			e = tls_flush(fd, s);
			if (!e)
				e = recv_some(fd, s, NULL);
		}
		if (!e)
			e = ms_tls_write(s, hs, (size_t)hn, why, sizeof(why));
		if (!e)
			e = tls_flush(fd, s);
	} else if (!e) {
		e = send_all(fd, hs, (size_t)hn);
	}
	/* the answer says its own length: it is complete before the peer closes */
	while (!e && (e = ms_members_info_decode(in.data, in.len, cluster_id, m)) == -EAGAIN) {
		e = recv_some(fd, s, &in);
		while (!e && s) {
			ssize_t n = ms_tls_read(s, dec, sizeof(dec), why, sizeof(why));

			if (n == -EAGAIN)
				break;
			e = n > 0 ? ms_buf_append(&in, dec, (size_t)n) : n ? (int)n : -ECONNRESET;
		}
		if (e == -ECONNRESET && in.len)
			e = ms_members_info_decode(in.data, in.len, cluster_id, m);
	}
	if (e)
		snprintf(err, errlen, "members query to peer %s failed: %s", address,
			 why[0] ? why : e == -ECONNRESET ? "closed by the peer (not a member of a "
			 "cluster that knows this one?)" : strerror(-e));
	ms_tls_free(s);
	ms_buf_free(&in);
	close(fd);
	return e;
}
