/* Fault suite: the three member processes (etcd or metastore), their namespaces and links. */
#include "fcluster.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "frpc.h"
#include "maintenance.pb-c.h"

int fcl_init(struct fcl_cluster *cl, struct fault_run *run, enum fcl_kind kind,
	     const char *bin, const char *dir, const char *netns_prefix, uint16_t port_base)
{
	memset(cl, 0, sizeof(*cl));
	cl->kind = kind;
	cl->bin = bin;
	cl->run = run;
	cl->netns = netns_prefix != NULL;
	snprintf(cl->dir, sizeof(cl->dir), "%s", dir);
	pthread_mutex_init(&cl->mu, NULL);
	for (int i = 0; i < FAULT_MEMBERS; i++) {
		struct fcl_member *m = &cl->m[i];

		snprintf(m->name, sizeof(m->name), "n%d", i + 1);
		if (netns_prefix) {
			snprintf(m->host, sizeof(m->host), "10.199.0.%d", i + 1);
			snprintf(m->netns, sizeof(m->netns), "%s-m%d", netns_prefix, i + 1);
			snprintf(m->veth, sizeof(m->veth), "fv%d", i + 1);
			m->cport = 2379;
			m->pport = 2380;
		} else {
			snprintf(m->host, sizeof(m->host), "127.0.0.1");
			m->cport = (uint16_t)(port_base + 2 * i);
			m->pport = (uint16_t)(port_base + 2 * i + 1);
		}
	}
	return mkdir(dir, 0755) && errno != EEXIST ? -errno : 0;
}

/* Child side of fcl_start: enters the member's namespace, sends output to its log, execs. */
static void child_exec(struct fcl_cluster *cl, int i)
{
	struct fcl_member *m = &cl->m[i];
	char peers[512] = "", path[300], curl[64], purl[64], data[256], port[16];
	size_t off = 0;
	int fd;

	for (int k = 0; k < FAULT_MEMBERS; k++)
		off += (size_t)snprintf(peers + off, sizeof(peers) - off, "%s%s=http://%s:%u",
					k ? "," : "", cl->m[k].name, cl->m[k].host,
					cl->m[k].pport);
	if (m->netns[0]) {
		snprintf(path, sizeof(path), "/run/netns/%s", m->netns);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNET)) {
			perror(path);
			_exit(126);
		}
	}
	/* A member that crashes leaves its core in DIR/NAME.cwd (with the usual relative
	 * core_pattern), next to its log; the driver keeps DIR when the run fails. */
	snprintf(path, sizeof(path), "%s/%s.cwd", cl->dir, m->name);
	mkdir(path, 0755);
	if (chdir(path) == 0)
		setrlimit(RLIMIT_CORE, &(struct rlimit){ RLIM_INFINITY, RLIM_INFINITY });
	snprintf(path, sizeof(path), "%s/%s.log", cl->dir, m->name);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	snprintf(curl, sizeof(curl), "http://%s:%u", m->host, m->cport);
	snprintf(purl, sizeof(purl), "http://%s:%u", m->host, m->pport);
	snprintf(data, sizeof(data), "%s/%s.data", cl->dir, m->name);
	snprintf(port, sizeof(port), "%s:%u", m->host, m->cport);
	if (cl->kind == FCL_ETCD)
		execl(cl->bin, cl->bin, "--name", m->name, "--data-dir", data,
		      "--listen-client-urls", curl, "--advertise-client-urls", curl,
		      "--listen-peer-urls", purl, "--initial-advertise-peer-urls", purl,
		      "--initial-cluster", peers, "--initial-cluster-state", "new",
		      "--initial-cluster-token", "fault-suite", "--heartbeat-interval", "100",
		      "--election-timeout", "1000", "--logger", "zap", (char *)NULL);
	else
		execl(cl->bin, cl->bin, "--name", m->name, "--data-dir", data, "--listen", port,
		      "--initial-cluster", peers, "--heartbeat-interval", "100",
		      "--election-timeout", "1000", (char *)NULL);
	perror(cl->bin);
	_exit(127);
}

/* DIR/NAME.pid: lets the driver script end a member by pid if this process dies first. */
static void write_pidfile(struct fcl_cluster *cl, int i)
{
	char path[300];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.pid", cl->dir, cl->m[i].name);
	f = fopen(path, "w");
	if (f) {
		fprintf(f, "%d\n", (int)cl->m[i].pid);
		fclose(f);
	}
}

int fcl_start(struct fcl_cluster *cl, int i)
{
	struct fcl_member *m = &cl->m[i];
	pid_t pid;
	int err = 0;

	pthread_mutex_lock(&cl->mu);
	if (m->pid)
		goto cleanup;
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		err = -errno;
		goto cleanup;
	}
	if (pid == 0)
		child_exec(cl, i);
	m->pid = pid;
	m->expect_exit = false;
	m->stopped = false;
	write_pidfile(cl, i);
	fault_log(cl->run, "start %s pid %d", m->name, (int)pid);
cleanup:
	pthread_mutex_unlock(&cl->mu);
	return err;
}

/* Records how member i ended; an exit the nemesis did not cause is an anomaly. Called
 * with cl->mu held. */
static void note_exit(struct fcl_cluster *cl, int i, int status)
{
	struct fcl_member *m = &cl->m[i];

	if (!m->expect_exit) {
		if (WIFSIGNALED(status))
			fault_anomaly(cl->run, "member %s (pid %d) died by itself: signal %d (%s)%s",
				      m->name, (int)m->pid, WTERMSIG(status),
				      strsignal(WTERMSIG(status)),
				      WCOREDUMP(status) ? ", core dumped" : "");
		else
			fault_anomaly(cl->run, "member %s (pid %d) exited by itself: status %d",
				      m->name, (int)m->pid, WEXITSTATUS(status));
	}
	m->pid = 0;
	m->stopped = false;
}

int fcl_kill(struct fcl_cluster *cl, int i)
{
	struct fcl_member *m = &cl->m[i];
	int err = 0, status;

	pthread_mutex_lock(&cl->mu);
	if (!m->pid)
		goto cleanup;
	m->expect_exit = true;
	if (kill(m->pid, SIGKILL)) {
		err = -errno;
		goto cleanup;
	}
	/* SIGKILL cannot be caught: the wait ends as soon as the kernel tore it down. */
	if (waitpid(m->pid, &status, 0) == m->pid)
		note_exit(cl, i, status);
	fault_log(cl->run, "kill -9 %s", m->name);
cleanup:
	pthread_mutex_unlock(&cl->mu);
	return err;
}

int fcl_pause(struct fcl_cluster *cl, int i, bool stop)
{
	struct fcl_member *m = &cl->m[i];
	int err = 0;

	pthread_mutex_lock(&cl->mu);
	if (!m->pid || m->stopped == stop)
		goto cleanup;
	if (kill(m->pid, stop ? SIGSTOP : SIGCONT)) {
		err = -errno;
		goto cleanup;
	}
	m->stopped = stop;
	fault_log(cl->run, "%s %s", stop ? "SIGSTOP" : "SIGCONT", m->name);
cleanup:
	pthread_mutex_unlock(&cl->mu);
	return err;
}

/* Runs `ip link set DEV up|down` in the current namespace, bounded to 10 s. */
static int run_ip(const char *dev, bool up)
{
	pid_t pid = fork();
	int status = 0;

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execlp("ip", "ip", "link", "set", dev, up ? "up" : "down", (char *)NULL);
		_exit(127);
	}
	for (int t = 0; t < 1000; t++) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
		poll(NULL, 0, 10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -ETIMEDOUT;
}

int fcl_link(struct fcl_cluster *cl, int i, bool up)
{
	struct fcl_member *m = &cl->m[i];
	int err;

	if (!cl->netns)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&cl->mu);
	err = run_ip(m->veth, up);
	if (!err) {
		m->link_down = !up;
		fault_log(cl->run, "link %s %s", m->name, up ? "up" : "down (partitioned)");
	}
	pthread_mutex_unlock(&cl->mu);
	return err;
}

int fcl_reap(struct fcl_cluster *cl)
{
	int n = 0, status;

	pthread_mutex_lock(&cl->mu);
	for (int i = 0; i < FAULT_MEMBERS; i++) {
		struct fcl_member *m = &cl->m[i];

		if (m->pid && waitpid(m->pid, &status, WNOHANG) == m->pid) {
			note_exit(cl, i, status);
			n++;
		}
	}
	pthread_mutex_unlock(&cl->mu);
	return n;
}

int fcl_heal(struct fcl_cluster *cl)
{
	int err = 0, e;

	fcl_reap(cl);
	for (int i = 0; i < FAULT_MEMBERS; i++) {
		if (cl->m[i].link_down && (e = fcl_link(cl, i, true)) && !err)
			err = e;
		if (cl->m[i].stopped && (e = fcl_pause(cl, i, false)) && !err)
			err = e;
		if (!cl->m[i].pid && (e = fcl_start(cl, i)) && !err)
			err = e;
	}
	return err;
}

int fcl_status(struct fcl_cluster *cl, int i, uint64_t *self, uint64_t *leader,
	       uint64_t *term)
{
	Etcdserverpb__StatusRequest req = ETCDSERVERPB__STATUS_REQUEST__INIT;
	Etcdserverpb__StatusResponse *resp;
	int err;

	err = frpc_call_to(cl->m[i].host, cl->m[i].cport, "/etcdserverpb.Maintenance/Status",
			   &req.base, &etcdserverpb__status_response__descriptor, 500, 0,
			   (ProtobufCMessage **)&resp);
	if (err)
		return err < 0 ? err : -EIO;
	*self = resp->header ? resp->header->member_id : 0;
	*leader = resp->leader;
	if (term)
		*term = resp->raftterm;
	cl->m[i].member_id = *self;
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return 0;
}

int fcl_leader(struct fcl_cluster *cl, int timeout_ms, int skip)
{
	uint64_t deadline = fault_now() + (uint64_t)timeout_ms * 1000000ULL;

	do {
		for (int i = 0; i < FAULT_MEMBERS; i++) {
			uint64_t self, leader;

			if (i == skip || !cl->m[i].pid || cl->m[i].stopped || cl->m[i].link_down)
				continue;
			if (fcl_status(cl, i, &self, &leader, NULL) == 0 && self && self == leader)
				return i;
		}
		poll(NULL, 0, 100);
	} while (fault_now() < deadline);
	return -ETIMEDOUT;
}

void fcl_stop_all(struct fcl_cluster *cl)
{
	for (int i = 0; i < FAULT_MEMBERS; i++) {
		fcl_reap(cl);
		if (cl->m[i].pid)
			fcl_kill(cl, i);
	}
}
