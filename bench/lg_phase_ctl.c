/* Load generator: the control channel to a probe switcher (bench/go_toggle.c) that detaches and re-attaches an agent's uprobes on command. */
#include "lg_phase_ctl.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct lg_phase_ctl {
	int fd;
	unsigned timeout_ms;
	char path[108];
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int lg_phase_ctl_open(const char *path, unsigned timeout_ms, struct lg_phase_ctl **out,
		      char *why, size_t why_len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	struct lg_phase_ctl *c;
	int err;

	*out = NULL;
	if (strlen(path) >= sizeof(sa.sun_path) || !timeout_ms) {
		snprintf(why, why_len, "bad control socket path or timeout: %s", path);
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	c->timeout_ms = timeout_ms;
	snprintf(c->path, sizeof(c->path), "%s", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* a Unix connect waits for room in the listener's backlog at most this long */
	if (c->fd < 0 || setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    connect(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		snprintf(why, why_len, "cannot connect to %s: %s", path, strerror(-err));
		goto cleanup;
	}
	*out = c;
	return 0;
cleanup:
	lg_phase_ctl_free(c);
	return err;
}

int lg_phase_ctl_parse(const char *line, struct lg_phase_ack *ack)
{
	unsigned on;
	int end = -1;

	if (sscanf(line, "ok on=%u hits_before=%" SCNu64 " hits_after=%" SCNu64 "%n", &on,
		   &ack->hits_before, &ack->hits_after, &end) != 3 ||
	    end < 0 || line[end] != '\0' || on > 1 || ack->hits_after < ack->hits_before)
		return -EPROTO;
	ack->on = on;
	return 0;
}

/* Reads one line into buf (NUL-terminated, newline dropped) by `deadline` (ms). */
static int read_line(struct lg_phase_ctl *c, char *buf, size_t len, uint64_t deadline)
{
	size_t n = 0;

	buf[0] = '\0';
	for (;;) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		uint64_t now = now_ms();
		ssize_t r;
		int pr;

		if (now >= deadline)
			return -ETIMEDOUT;
		pr = poll(&pfd, 1, (int)(deadline - now));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return -errno;
		if (!pr)
			return -ETIMEDOUT;
		/* byte by byte: the answer is one short line and nothing may be read past it */
		r = read(c->fd, buf + n, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (!r)
			return -ECONNRESET;
		if (buf[n] == '\n') {
			buf[n] = '\0';
			return 0;
		}
		buf[++n] = '\0';
		if (n == len - 1)
			return -EPROTO;
	}
}

int lg_phase_ctl_set(struct lg_phase_ctl *c, bool on, struct lg_phase_ack *ack, char *why,
		     size_t why_len)
{
	char cmd[2] = { on ? '1' : '0', '\n' }, line[160] = "";
	int err;

	if (send(c->fd, cmd, sizeof(cmd), MSG_NOSIGNAL) != (ssize_t)sizeof(cmd)) {
		err = -errno;
		snprintf(why, why_len, "cannot send '%c' to %s: %s", cmd[0], c->path,
			 strerror(-err));
		return err;
	}
	err = read_line(c, line, sizeof(line), now_ms() + c->timeout_ms);
	if (err == -ETIMEDOUT)
		snprintf(why, why_len, "no whole answer to '%c' from %s in %u ms (got \"%s\")",
			 cmd[0], c->path, c->timeout_ms, line);
	else if (err == -ECONNRESET)
		snprintf(why, why_len, "%s closed before answering '%c' (got \"%s\")", c->path,
			 cmd[0], line);
	else if (err)
		snprintf(why, why_len, "reading the answer to '%c' from %s: %s", cmd[0], c->path,
			 strerror(-err));
	if (err)
		return err;
	if (lg_phase_ctl_parse(line, ack) || ack->on != on) {
		snprintf(why, why_len, "answer to '%c' from %s: \"%s\"", cmd[0], c->path, line);
		return -EPROTO;
	}
	return 0;
}

void lg_phase_ctl_free(struct lg_phase_ctl *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}
