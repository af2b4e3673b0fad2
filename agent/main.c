/* metastore-agent: attach uprobes to a metastore binary and serve its metrics over HTTP. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <pthread.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "args.h"
#include "binwatch.h"
#include "collect.h"
#include "go_target.h"
#include "http.h"
#include "kernel.h"
#include "log.h"
#include "loader.h"
#include "notify.h"
#include "passwd.h"
#include "webconfig.h"
#include "privs.h"

#define AGENT_VERSION "0.1.0"
/* The git revision the build came from (the Makefile defines it). */
#ifndef MS_GIT_REVISION
#define MS_GIT_REVISION "unknown"
#endif

static bool verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG || (!verbose && level != LIBBPF_WARN))
		return 0;
	if (!verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_ERROR, fmt, ap);
	va_end(ap);
	return 1;
}

/*
 * Resolves the target: --binary as given, or for --pid the process's executable, attached
 * through /proc/PID/exe so that a replaced or deleted file still names the mapped inode.
 * `shown` gets the path to report.
 */
static int resolve_target(const struct agent_args *a, char *path, size_t len, char *shown,
			  size_t shown_len)
{
	struct stat st;

	if (a->pid > 0) {
		ssize_t n;

		snprintf(path, len, "/proc/%d/exe", a->pid);
		n = readlink(path, shown, shown_len - 1);
		if (n < 0)
			return errno == ENOENT ? die("no process with pid %d", a->pid)
					       : die("cannot read %s: %s", path, strerror(errno));
		shown[n] = '\0';
		return 0;
	}
	if (stat(a->binary, &st))
		return die("binary %s: %s", a->binary, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return die("binary %s is not a regular file", a->binary);
	snprintf(path, len, "%s", a->binary);
	snprintf(shown, shown_len, "%s", a->binary);
	return 0;
}

/*
 * The cgroup v2 id of --target-cgroup: a path under /sys/fs/cgroup as given, else one as
 * /proc/PID/cgroup shows it ("/system.slice/metastore.service"), under the v2 mount (the
 * unified one of a hybrid layout). The id is the directory's inode number. Returns 0, or 1
 * after the one-line message.
 */
static int target_cgroup_id(const char *path, uint64_t *id)
{
	const char *root = access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 ?
				   "/sys/fs/cgroup" : "/sys/fs/cgroup/unified";
	char cg[PATH_MAX], procs[PATH_MAX + 16];
	struct stat st;

	if (!strncmp(path, "/sys/fs/cgroup/", 15))
		snprintf(cg, sizeof(cg), "%s", path);
	else
		snprintf(cg, sizeof(cg), "%s%s%s", root, path[0] == '/' ? "" : "/", path);
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg);
	if (stat(cg, &st) || !S_ISDIR(st.st_mode) || access(procs, F_OK))
		return die("--target-cgroup: %s is no cgroup v2 directory", cg);
	*id = st.st_ino;
	return 0;
}

static struct collector *g_collector;
static struct webconfig g_web;

/* The last password each user got in with: a bcrypt check per scrape costs ~75 ms. */
static char g_good[WEBCONFIG_MAX_USERS][128];
static pthread_mutex_t g_good_lock = PTHREAD_MUTEX_INITIALIZER;

static bool authorize_cb(const char *user, const char *password, void *arg)
{
	bool ok = false;

	(void)arg;
	for (size_t i = 0; i < g_web.nr_users; i++) {
		if (strcmp(g_web.users[i].name, user))
			continue;
		pthread_mutex_lock(&g_good_lock);
		ok = g_good[i][0] && passwd_equal(g_good[i], password);
		pthread_mutex_unlock(&g_good_lock);
		if (!ok && passwd_check(g_web.users[i].hash, password) == 1) {
			ok = true;
			pthread_mutex_lock(&g_good_lock);
			snprintf(g_good[i], sizeof(g_good[i]), "%s", password);
			pthread_mutex_unlock(&g_good_lock);
		}
		break;
	}
	return ok;
}

/* Reads a whole PEM file into a new string (the caller frees). Returns NULL after die(). */
static char *read_pem(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	long n;

	if (!f) {
		die("--web-config: %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && n < (1 << 20) &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = calloc(1, (size_t)n + 1)) &&
	    fread(buf, 1, (size_t)n, f) == (size_t)n) {
		fclose(f);
		return buf;
	}
	free(buf);
	fclose(f);
	die("--web-config: %s: cannot read it (empty, over 1 MiB or unreadable)", path);
	return NULL;
}

static int metrics_cb(enum expo_format fmt, struct expo_buf *out, void *arg)
{
	(void)arg;
	return collector_render(g_collector, fmt, out);
}

static bool health_cb(char *why, size_t len, void *arg)
{
	(void)arg;
	return collector_healthy(g_collector, why, len);
}

int main(int argc, char **argv)
{
	struct agent_args a;
	char err[512], target[PATH_MAX], shown[PATH_MAX], listening[80];
	struct loader *loader = NULL;
	struct http_server *http = NULL;
	struct binwatch *watch = NULL;
	struct stat bin_st, bin_now;
	struct loader_opts lo;
	sigset_t sigs;
	int sig, rc = 1, e, stats_fd = -1, listen_fd = -1, notify_fd = -1;
	uint64_t have, missing;
	char names[256], *cert_pem = NULL, *key_pem = NULL;

	e = agent_args_parse(argc, argv, &a, err, sizeof(err));
	if (e)
		return die("%s (see --help)", err), 2;
	if (a.help) {
		agent_args_help(stdout);
		return 0;
	}
	if (a.version) {
		printf("metastore-agent %s (revision %s)\n", AGENT_VERSION, MS_GIT_REVISION);
		return 0;
	}
	if (a.list_probes) {
		agent_args_list_probes(stdout);
		return 0;
	}
	verbose = a.verbose;
	log_setup(a.log_level, a.log_json);
	libbpf_set_print(libbpf_print);

	/* capabilities, not the uid: root without them fails, another user with them runs */
	if (privs_effective(&have))
		return die("cannot read this process's capabilities: %s", strerror(errno));
	missing = privs_needed(a.user != NULL) & ~have;
	privs_cap_names(missing, names, sizeof(names));
	if (missing && !a.check)
		return die("missing capabilities: %s (CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN load and attach the uprobes, CAP_SETPCAP drops the rest%s)",
			   names, a.user ? ", CAP_SETUID and CAP_SETGID switch to --user" : "");
	{
		struct utsname u;

		if (uname(&u) == 0 &&
		    kernel_release_at_least(u.release, KERNEL_MIN_MAJOR, KERNEL_MIN_MINOR) == 0)
			return die("kernel %s is older than %d.%d: the BPF programs need bpf_loop",
				   u.release, KERNEL_MIN_MAJOR, KERNEL_MIN_MINOR);
	}
	if (a.btf && access(a.btf, R_OK))
		return die("--btf %s: %s", a.btf, strerror(errno));
	if (!a.btf && access("/sys/kernel/btf/vmlinux", R_OK))
		return die("kernel BTF not available at /sys/kernel/btf/vmlinux (needs CONFIG_DEBUG_INFO_BTF, or give --btf PATH)");
	if (resolve_target(&a, target, sizeof(target), shown, sizeof(shown)))
		return 1;
	if (a.pid <= 0 && stat(target, &bin_st))
		return die("binary %s: %s", target, strerror(errno));

	lo = (struct loader_opts){
		.binary = target,
		.pid = a.pid > 0 ? a.pid : -1,
		.subsys_mask = a.probes,
		.bounds_ns = a.bounds_ns,
		.nr_bounds = a.nr_bounds,
		.btf = a.btf,
		.has_target_uid = a.has_target_uid,
		.target_uid = a.target_uid,
		.go_max_calls = a.go_max_calls,
		.go_perf_event = a.go_perf_event,
	};
	if (a.target_cgroup && target_cgroup_id(a.target_cgroup, &lo.target_cgroup))
		return 1;
	if (a.target_pidns) {
		struct stat ns;

		/* the helper that checks it takes the nsfs device as the kernel encodes it */
		if (stat(a.target_pidns, &ns))
			return die("--target-pidns: %s: %s", a.target_pidns, strerror(errno));
		lo.target_pidns_dev = ((uint64_t)major(ns.st_dev) << 20) | minor(ns.st_dev);
		lo.target_pidns_ino = ns.st_ino;
	}
	if (a.web_config && webconfig_load(a.web_config, &g_web, err, sizeof(err)))
		return die("--web-config: %s", err);
	if (a.check) {
		e = loader_check(&lo, err, sizeof(err));
		if (e)
			return die("%s", err);
		printf("metastore-agent: check ok: %s has every probe of %s; kernel and BTF usable; %s%s\n",
		       shown, a.probes_text, missing ? "missing capabilities to run: " : "capabilities present",
		       names);
		return 0;
	}
	if (a.bpf_stats) {
		/* Run-time stats stay on while this fd is open, and go off when the agent exits. */
		stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
		if (stats_fd < 0)
			return die("cannot enable BPF run-time stats: %s", strerror(errno));
	}
	e = loader_new(&lo, &loader, err, sizeof(err));
	if (e)
		return die("%s", err);
	e = collector_new(loader, AGENT_VERSION, MS_GIT_REVISION, &g_collector);
	if (e) {
		die("cannot set up the collector: %s", strerror(-e));
		goto cleanup;
	}
	collector_set_target_pid(g_collector, a.pid);
	/* --binary: the watcher re-attaches when the path names a new file; it must start from
	 * the file the loader attached to, so a replacement during loader_new is refused. */
	if (a.pid <= 0) {
		if (stat(target, &bin_now) || bin_now.st_dev != bin_st.st_dev ||
		    bin_now.st_ino != bin_st.st_ino) {
			die("binary %s was replaced while the probes were attached; start again", shown);
			goto cleanup;
		}
	}

	/* Signals are taken synchronously with sigwait, so block them before threads start. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	/* Forked while single-threaded, privileged and before any socket exists. */
	if (a.pid <= 0) {
		e = binwatch_start(loader, target, bin_st.st_dev, bin_st.st_ino, &watch);
		if (e) {
			die("cannot start the --binary watcher: %s", strerror(-e));
			goto cleanup;
		}
		collector_set_binwatch(g_collector, watch);
	}

	/* Bind while privileged (the port may be < 1024), then drop every capability before
	 * the HTTP threads exist: what faces the network holds none. */
	e = http_listener_open(a.listen, &listen_fd);
	if (e) {
		die("cannot listen on %s: %s", a.listen, strerror(-e));
		goto cleanup;
	}
	/* the key may be readable by root only: read while privileged */
	if (g_web.cert_file[0] && (!(cert_pem = read_pem(g_web.cert_file)) ||
				   !(key_pem = read_pem(g_web.key_file)))) {
		close(listen_fd);
		goto cleanup;
	}
	e = notify_open(&notify_fd);
	if (e) {
		close(listen_fd);
		die("cannot reach NOTIFY_SOCKET %s: %s", getenv("NOTIFY_SOCKET"), strerror(-e));
		goto cleanup;
	}
	e = http_listener_name(listen_fd, listening, sizeof(listening));
	if (e) {
		close(listen_fd);
		die("cannot read the address of %s: %s", a.listen, strerror(-e));
		goto cleanup;
	}
	e = privs_drop(a.user, err, sizeof(err));
	if (e) {
		close(listen_fd);
		die("%s", err);
		goto cleanup;
	}
	e = http_server_start(listen_fd, &(struct http_handlers){
					.metrics = metrics_cb, .health = health_cb,
					.metrics_path = a.metrics_path, .tls_cert_pem = cert_pem,
					.tls_key_pem = key_pem,
					.authorize = g_web.nr_users ? authorize_cb : NULL },
			      &http);
	if (e) {
		die("cannot serve HTTP on %s: %s", a.listen, strerror(-e));
		goto cleanup;
	}
	if (a.pid > 0)
		log_msg(LOG_INFO, "probing pid %d (%s) for %s; serving %s://%s%s",
			a.pid, shown, a.probes_text, cert_pem ? "https" : "http", listening,
			a.metrics_path);
	else
		log_msg(LOG_INFO, "probing every process of %s for %s; serving %s://%s%s",
			shown, a.probes_text, cert_pem ? "https" : "http", listening, a.metrics_path);
	/* which kernel interface holds a Go target's sites: it decides what a detach costs */
	if (loader_go_target(loader))
		log_msg(LOG_INFO, "Go target: sites attached as %s links",
			go_target_link_kind(loader_go_target(loader)));
	/* Type=notify: ready once attached and serving */
	notify_send(notify_fd, "READY=1");
	/* SIGHUP (a terminal closing, a reload by habit) must not stop the agent: there is no
	 * configuration to read again while attached, so it is logged and ignored. */
	while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP)
		log_msg(LOG_INFO, "SIGHUP ignored (nothing to reload; restart to change options)");
	log_msg(LOG_INFO, "%s, detaching", strsignal(sig));
	notify_send(notify_fd, "STOPPING=1");
	rc = 0;
cleanup:
	http_server_free(http);
	binwatch_stop(watch);
	collector_free(g_collector);
	loader_free(loader);
	if (stats_fd >= 0)
		close(stats_fd);
	if (notify_fd >= 0)
		close(notify_fd);
	free(cert_pem);
	free(key_pem);
	agent_args_release(&a);
	return rc;
}
