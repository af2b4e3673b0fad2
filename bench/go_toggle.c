/* Probe switcher for the phase benchmarks: loads the agent's probes on a binary and detaches or re-attaches every uprobe on command (bench/lg_phase_ctl.h has the protocol). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "buckets.h"
#include "go_target.h"
#include "loader.h"
#include "mapread.h"
#include "ms_maps.h"
#include "subsys.h"

static const char usage[] =
	"usage: go_toggle --binary PATH --probes LIST --ctl SOCKET [--pid PID]\n"
	"                 [--idle-timeout S] [--cmd-timeout S] [--sham]\n"
	"\n"
	"Loads the agent's probes (LIST as metastore-agent --probes takes it, the default\n"
	"buckets) on PATH, then listens on the Unix socket SOCKET. Each connection sends \"0\"\n"
	"(detach every uprobe) or \"1\" (attach them again, as they were), one per line; each is\n"
	"answered once the switch is done: \"ok on=0|1 hits_before=N hits_after=N\" (uprobe hits\n"
	"the probes' BPF objects counted) or \"err REASON\". A connection that closes, or sends\n"
	"nothing for --cmd-timeout seconds (default 30), leaves the probes attached. Exits after\n"
	"--idle-timeout seconds (default 1800) with no connection, or on SIGTERM/SIGINT.\n"
	"--sham: the control of the method: \"0\" detaches and at once re-attaches (the same\n"
	"kernel work, the probes attached after it; a \"0\" right after a \"0\" does nothing, as\n"
	"a real one would), \"1\" changes nothing; the answers say what was asked for.\n";

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct toggle {
	struct loader *loader;
	struct mapread *reader;
	uint64_t hits[MS_MAX_PROBES];
	unsigned cmd_timeout_ms;
	bool sham; /* --sham */
	bool sham_off; /* --sham: the last command was "0" */
};

/* Every hit the loaded objects counted (each subsystem's own probe_hits table). */
static int hits_now(struct toggle *t, uint64_t *out)
{
	*out = 0;
	for (int id = 0; id < SUBSYS_COUNT; id++) {
		struct bpf_object *obj = loader_object(t->loader, id);
		int err;

		if (!obj)
			continue;
		err = mapread_percpu_sum(t->reader, bpf_object__find_map_fd_by_name(obj, "probe_hits"),
					 MS_MAX_PROBES, 1, t->hits);
		if (err)
			return err;
		for (uint32_t i = 0; i < MS_MAX_PROBES; i++)
			*out += t->hits[i];
	}
	return 0;
}

/* One command: the switch, then its answer line into `ans`. Returns 0, or -errno when the
 * probes may be left in a state the answer does not say (the caller stops). */
static int do_command(struct toggle *t, char cmd, char *ans, size_t len)
{
	char why[256] = "";
	uint64_t before, after;
	int err = hits_now(t, &before);

	/* a sham "off" after a sham "off" does nothing, as a real detach of detached probes */
	bool sham_work = t->sham && cmd == '0' && !t->sham_off;

	if (cmd != '0' && cmd != '1') {
		snprintf(ans, len, "err unknown command '%c'\n", cmd);
		return 0;
	}
	if (!err && cmd == '0' && (!t->sham || sham_work))
		err = loader_detach(t->loader);
	if (!err && (cmd == '1' || sham_work))
		err = loader_reattach(t->loader, why, sizeof(why));
	if (!err && t->sham)
		t->sham_off = cmd == '0';
	if (!err)
		err = hits_now(t, &after);
	if (err) {
		snprintf(ans, len, "err %s\n", why[0] ? why : strerror(-err));
		return err;
	}
	snprintf(ans, len, "ok on=%d hits_before=%" PRIu64 " hits_after=%" PRIu64 "\n",
		 t->sham ? cmd == '1' : !loader_detached(t->loader), before, after);
	return 0;
}

/* Serves one connection until it closes or falls silent. Returns 0, or -errno when the
 * probes could not be put back (then nothing is left to measure: the caller exits). */
static int serve(struct toggle *t, int fd)
{
	char c, ans[320], why[256] = "";
	int err = 0;

	while (!stop) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int pr = poll(&pfd, 1, (int)t->cmd_timeout_ms);
		ssize_t r;

		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0) {
			fprintf(stderr, "go_toggle: %s; attaching again\n",
				pr ? strerror(errno) : "no command within --cmd-timeout");
			break;
		}
		r = read(fd, &c, 1);
		if (r <= 0)
			break;
		if (c == '\n')
			continue;
		err = do_command(t, c, ans, sizeof(ans));
		if (send(fd, ans, strlen(ans), MSG_NOSIGNAL) < 0 || err)
			break;
	}
	if (!err && loader_detached(t->loader))
		err = loader_reattach(t->loader, why, sizeof(why));
	if (err)
		fprintf(stderr, "go_toggle: %s\n", why[0] ? why : strerror(-err));
	return err;
}

static int listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 4)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Accepts connections one at a time until a signal or --idle-timeout. */
static int run(struct toggle *t, int lfd, unsigned idle_ms)
{
	struct timespec last, now;

	clock_gettime(CLOCK_MONOTONIC, &last);
	while (!stop) {
		struct pollfd pfd = { .fd = lfd, .events = POLLIN };
		int pr = poll(&pfd, 1, 1000), fd, err;

		if (pr < 0 && errno != EINTR)
			return -errno;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (pr <= 0) {
			if ((uint64_t)(now.tv_sec - last.tv_sec) * 1000u >= idle_ms) {
				fprintf(stderr, "go_toggle: no connection within --idle-timeout\n");
				return -ETIMEDOUT;
			}
			continue;
		}
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		err = serve(t, fd);
		close(fd);
		clock_gettime(CLOCK_MONOTONIC, &last);
		if (err)
			return err;
	}
	return 0;
}

static int parse_secs(const char *s, unsigned *ms)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (end == s || *end || !v || v > 86400)
		return -EINVAL;
	*ms = (unsigned)v * 1000u;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "binary", required_argument, NULL, 'b' }, { "probes", required_argument, NULL, 'p' },
		{ "ctl", required_argument, NULL, 'c' },    { "pid", required_argument, NULL, 'P' },
		{ "idle-timeout", required_argument, NULL, 'i' },
		{ "cmd-timeout", required_argument, NULL, 't' },
		{ "sham", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },          { NULL, 0, NULL, 0 },
	};
	uint64_t bounds[MS_MAX_BUCKETS];
	struct loader_opts lo = { .pid = -1, .bounds_ns = bounds };
	struct toggle t = { .cmd_timeout_ms = 30000 };
	struct sigaction sa = { .sa_handler = on_signal };
	const char *probes = NULL, *ctl = NULL, *bad;
	unsigned idle_ms = 1800000;
	char eb[256];
	size_t bad_len;
	int c, lfd = -1, err, rc = 1;

	while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		if (c == 'b')
			lo.binary = optarg;
		else if (c == 'p')
			probes = optarg;
		else if (c == 'c')
			ctl = optarg;
		else if (c == 'P')
			lo.pid = atoi(optarg);
		else if (c == 's')
			t.sham = true;
		else if ((c == 'i' && !parse_secs(optarg, &idle_ms)) ||
			 (c == 't' && !parse_secs(optarg, &t.cmd_timeout_ms)))
			continue;
		else {
			fputs(usage, c == 'h' ? stdout : stderr);
			return c == 'h' ? 0 : 2;
		}
	}
	if (!lo.binary || !probes || !ctl || optind < argc || lo.pid == 0) {
		fputs(usage, stderr);
		return 2;
	}
	if (subsys_parse_list(probes, &lo.subsys_mask, &bad, &bad_len)) {
		fprintf(stderr, "go_toggle: unknown subsystem in --probes: %.*s\n", (int)bad_len, bad);
		return 2;
	}
	lo.nr_bounds = buckets_default(bounds, MS_MAX_BUCKETS);
	libbpf_set_print(NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	err = loader_new(&lo, &t.loader, eb, sizeof(eb));
	if (err) {
		fprintf(stderr, "go_toggle: %s\n", eb);
		goto cleanup;
	}
	err = mapread_new(&t.reader);
	if (!err) {
		lfd = listen_on(ctl);
		err = lfd < 0 ? lfd : 0;
	}
	if (err) {
		fprintf(stderr, "go_toggle: cannot listen on %s: %s\n", ctl, strerror(-err));
		goto cleanup;
	}
	printf("ready binary=%s probes=%s ctl=%s links=%s\n", lo.binary, probes, ctl,
	       loader_go_target(t.loader) ? go_target_link_kind(loader_go_target(t.loader))
					  : "perf_event");
	fflush(stdout);
	rc = run(&t, lfd, idle_ms) ? 1 : 0;
cleanup:
	if (lfd >= 0) {
		close(lfd);
		unlink(ctl);
	}
	mapread_free(t.reader);
	loader_free(t.loader);
	return rc;
}
