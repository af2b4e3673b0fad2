/* metastore: an etcd-v3-compatible key-value server (gRPC over HTTP/2, MVCC, raft). */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#include "cmd/args.h"
#include "api/auth_service.h"
#include "cmd/cluster.h"
#include "cmd/join.h"
#include "api/cluster_service.h"
#include "raft/member_change.h"
#include "cmd/restore.h"
#include "rpc/forward.h"
#include "api/kv_service.h"
#include "api/lease_service.h"
#include "api/maintenance_service.h"
#include "store/mvcc.h"
#include "raft/integrity.h"
#include "raft/raftnode.h"
#include "raft/transport.h"
#include "rpc/server.h"
#include "rpc/tls.h"
#include "store/snapshot.h"
#include "api/snapshot_stream.h"
#include "api/move_leader.h"
#include "probe/trace.h"
#include "probe/trace_loop.h"
#include "api/watch_service.h"

#define MS_VERSION "0.2.0"

struct app {
	struct ms_applier applier;
	struct ms_alarms alarms;
	struct ms_server *srv;
	struct lease_service *leases;
	struct ms_raft *raft;
	struct ms_forward *fwd;
	struct ms_tls_ctx *client_tls; /* https:// client URLs; NULL: plain text */
	struct kv_service *kv;
	struct ms_snap_parts snap;
	uv_signal_t sigint, sigterm;
	uv_timer_t removed_timer;
	const char *data_dir;
	struct ms_member_file member_file;
	bool removed;       /* this member was removed from the cluster */
	bool stopped;       /* by a signal, not by a failure */
	uint64_t committed; /* the commit index when the stop began */
};

static void shut_down(struct app *app)
{
	app->stopped = true;
	app->committed = ms_raft_commit_index(app->raft);
	ms_raft_stop(app->raft);
	ms_forward_stop(app->fwd);
	ms_server_shutdown(app->srv);
	lease_service_stop(app->leases);
	uv_close((uv_handle_t *)&app->sigint, NULL);
	uv_close((uv_handle_t *)&app->sigterm, NULL);
	if (app->removed)
		uv_close((uv_handle_t *)&app->removed_timer, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct app *app = h->data;

	fprintf(stderr, "metastore: %s, shutting down\n", strsignal(signum));
	shut_down(app);
}

static void on_removed_timer(uv_timer_t *t)
{
	shut_down(t->data);
}

/* As etcd: a removed member stops a second later (its last answers go out first). */
static void on_removed(void *arg)
{
	struct app *app = arg;

	if (app->removed || app->stopped)
		return;
	fprintf(stderr, "metastore: the member has been permanently removed from the cluster; "
		"shutting down\n");
	app->removed = true;
	uv_timer_init(uv_default_loop(), &app->removed_timer);
	app->removed_timer.data = app;
	uv_timer_start(&app->removed_timer, on_removed_timer, 1000, 0);
}

/* The data dir keeps the member table a restart starts from. */
static void on_members(void *arg, const struct ms_members *m)
{
	struct app *app = arg;
	int e = ms_member_file_write(app->data_dir, &app->member_file, m);

	if (e)
		fprintf(stderr, "metastore: cannot write %s/%s: %s\n", app->data_dir,
			MS_MEMBERS_FILE, strerror(-e));
}

/* Refused peers and failed peer handshakes, one line each. */
static void peer_log(void *arg, const char *line)
{
	(void)arg;
	fprintf(stderr, "metastore: %s\n", line);
}

static int snap_take(void *arg, struct ms_buf *out)
{
	struct app *app = arg;

	return ms_snapshot_serialize(&app->snap, out);
}

static int snap_restore(void *arg, const uint8_t *data, size_t len)
{
	struct app *app = arg;

	return ms_snapshot_restore(&app->snap, data, len, (int64_t)uv_now(uv_default_loop()));
}

static int64_t loop_now(void *arg)
{
	return (int64_t)uv_now(arg);
}

/* Every committed store entry, on every member, in log order. */
static int apply_entry(void *arg, const uint8_t *entry, size_t len, struct ms_apply_res *res)
{
	struct app *app = arg;

	return ms_apply_entry(&app->applier, entry, len, res);
}

static void vlog(const char *fmt, va_list ap)
{
	fputs("metastore: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static void log_line(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

static void on_log(void *arg, const char *fmt, ...)
{
	va_list ap;

	(void)arg;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

/* The log holds what this member cannot apply: one line, and no serving less than that. */
static void on_fatal(void *arg, const char *fmt, ...)
{
	va_list ap;

	(void)arg;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
	exit(1);
}

static int forward(void *ctx, const char *leader, struct grpc_call *call,
		   const struct ms_forward_cred *cred, const uint8_t *msg, size_t len)
{
	return ms_forward_call(ctx, leader, call, cred, msg, len);
}

static int forward_unary(void *ctx, const char *leader, uint32_t method,
			 const struct ms_forward_cred *cred, const uint8_t *msg, size_t len,
			 ms_forward_done_fn done, void *arg)
{
	return ms_forward_unary(ctx, leader, method, cred, msg, len, done, arg);
}

/* A relayed answer waits for this member's own apply (rpc/ knows nothing of raft). */
static int wait_applied(void *ctx, uint64_t index, void (*cb)(void *arg, int status), void *arg)
{
	return ms_raft_wait_applied(ctx, index, cb, arg);
}

/* The applied index a forwarded call's answer carries back to its forwarder. */
static uint64_t applied_index(void *arg)
{
	return ms_raft_applied_index(arg);
}

/* Whether the member serves watches yet (ms_raft_ready). */
static bool member_ready(void *arg)
{
	return ms_raft_ready(arg);
}

/* After a snapshot replaced the store, or once the member is ready: watchers read on from
 * their positions, and watch requests held until it was ready run. */
static void wake_watchers(void *arg)
{
	struct app *app = arg;

	if (app->kv->changed)
		app->kv->changed(app->kv->changed_arg);
}

/* Start-up integrity (integrity.h): the data dir's owner, then the raft files. Prints one
 * line and returns -1 on refusal; prints what a torn open segment loses and returns 0. */
static int check_data_dir(const struct ms_args *a, const struct ms_cluster *c,
			  const struct ms_members *m, const char *raft_dir)
{
	uint64_t ids[MS_MEMBERS_MAX + MS_MEMBERS_MAX_REMOVED];
	size_t n = 0;
	char err[512], note[512];

	if (ms_integrity_member(a->data_dir, a->name, c->self_id, c->cluster_id, err,
				sizeof(err))) {
		fprintf(stderr, "metastore: %s; refusing to start\n", err);
		return -1;
	}
	/* a vote may have gone to any member there was */
	for (size_t i = 0; i < m->n; i++)
		ids[n++] = m->v[i].id;
	for (size_t i = 0; i < m->n_removed; i++)
		ids[n++] = m->removed[i];
	if (ms_integrity_check_raft(raft_dir, ids, n, note, sizeof(note), err, sizeof(err))) {
		fprintf(stderr, "metastore: %s; refusing to start\n", err);
		return -1;
	}
	if (note[0])
		fprintf(stderr, "metastore: %s\n", note);
	return 0;
}

int main(int argc, char **argv)
{
	struct ms_args a;
	struct app app = { 0 };
	struct ms_mvcc *mvcc = NULL;
	struct watch_hub *hub = NULL;
	struct ms_lease_table *leases = NULL;
	struct maintenance_service *maint = NULL;
	struct cluster_service *clus = NULL;
	static struct ms_members table;
	bool write_members = false;
	struct ms_auth *auth = NULL;
	struct auth_service authsvc;
	char client_url[96], client_addr[80], raft_dir[4096];
	struct ms_cluster cluster;
	struct ms_raft_opts ro;
	struct ms_peer_opts po;
	struct ms_raft_state_ops rs;
	struct kv_service kv;
	struct ms_server_opts so;
	uv_loop_t *loop = uv_default_loop();
	char err[512];
	int64_t seed_rev = 0;
	int e, rc = 1;

	if (ms_args_parse(argc, argv, &a, err, sizeof(err))) {
		fprintf(stderr, "metastore: %s (see --help)\n", err);
		return 2;
	}
	if (a.help) {
		ms_args_help(stdout);
		return 0;
	}
	if (a.version) {
		printf("metastore %s\n", MS_VERSION);
		return 0;
	}
	if (ms_cluster_parse(a.initial_cluster, a.name, &cluster, err, sizeof(err)) ||
	    ms_cluster_check_peers(&cluster, &a, err, sizeof(err))) {
		fprintf(stderr, "metastore: %s (see --help)\n", err);
		return 2;
	}
	/* a new member from a snapshot file: verified and copied in before anything else */
	if (a.restore_file && ms_restore_prepare(a.restore_file, a.data_dir, err, sizeof(err))) {
		fprintf(stderr, "metastore: %s\n", err);
		return 1;
	}
	snprintf(raft_dir, sizeof(raft_dir), "%s/raft", a.data_dir);
	if ((mkdir(a.data_dir, 0700) && errno != EEXIST) ||
	    (mkdir(raft_dir, 0700) && errno != EEXIST)) {
		fprintf(stderr, "metastore: cannot create data dir %s: %s\n", raft_dir,
			strerror(errno));
		return 1;
	}
	/* who this member is: the data dir says, or a peer (joining), or --initial-cluster */
	if (ms_join_members(&a, &cluster, &table, &app.member_file, &write_members, err,
			    sizeof(err))) {
		fprintf(stderr, "metastore: %s; refusing to start\n", err);
		return 1;
	}
	/* another member's data dir, or a damaged log, refuses before libraft touches it */
	if (check_data_dir(&a, &cluster, &table, raft_dir))
		return 1;
	app.data_dir = a.data_dir;
	if (write_members && (e = ms_member_file_write(a.data_dir, &app.member_file, &table))) {
		fprintf(stderr, "metastore: cannot write %s/%s: %s\n", a.data_dir, MS_MEMBERS_FILE,
			strerror(-e));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	mvcc = ms_mvcc_new(cluster.self_id);
	leases = ms_lease_table_new();
	if (!mvcc || !leases) {
		ms_mvcc_free(mvcc);
		ms_lease_table_free(leases);
		fprintf(stderr, "metastore: out of memory\n");
		return 1;
	}
	/* the start-up revision reaches an attached batch probe before the port opens */
	ms_probe_limits_info = (struct ms_probe_limits){
		a.max_connections, (uint64_t)(a.rate_limit * 1000),
		(uint64_t)((a.rate_burst > 0 ? a.rate_burst : a.rate_limit) * 1000), a.max_leases, a.max_watches };
	ms_probe_raft_status(cluster.self_id, 0, 0, &ms_probe_limits_info);
	ms_trace_flush();
	/* lease ids are drawn when grants apply, so every member draws the same ones */
	ms_lease_table_seed(leases, cluster.cluster_id);
	app.snap = (struct ms_snap_parts){ .mvcc = mvcc, .leases = leases, .alarms = &app.alarms };
	if (a.client_https) {
		struct ms_tls_cfg tc = { .cert_file = a.cert_file, .key_file = a.key_file,
					 .ca_file = a.ca_file, .client_cert_auth = a.client_cert_auth,
					 .flag_prefix = "", .alpn_h2 = true };

		if (ms_tls_ctx_new(&tc, &app.client_tls, err, sizeof(err))) {
			fprintf(stderr, "metastore: %s\n", err);
			goto cleanup;
		}
	}
	so = (struct ms_server_opts){ .host = a.host, .port = a.port,
				      .max_connections = a.max_connections,
				      .handshake_timeout_ms = a.handshake_timeout_ms,
				      .idle_timeout_ms = a.idle_timeout_ms,
				      .max_recv_bytes = a.max_request_bytes + MS_GRPC_OVERHEAD_BYTES,
				      .rate_limit = a.rate_limit,
				      .rate_burst = a.rate_burst > 0 ? a.rate_burst : a.rate_limit,
				      .tls = app.client_tls };
	e = ms_server_new(loop, &so, &app.srv);
	if (e) {
		fprintf(stderr, "metastore: cannot listen on %s:%u: %s\n", a.host, a.port,
			uv_strerror(e));
		goto cleanup;
	}
	/* what followers forward to: a scheme only for TLS, as older logs hold bare addresses */
	if (a.advertise_client.addr[0])
		snprintf(client_addr, sizeof(client_addr), "%s%s", a.client_https ? "https://" : "",
			 a.advertise_client.addr);
	else
		snprintf(client_addr, sizeof(client_addr), "%s%s:%u",
			 a.client_https ? "https://" : "", a.host, ms_server_port(app.srv));
	ro = (struct ms_raft_opts){ .node_id = cluster.self_id, .dir = raft_dir,
				    .peers = cluster.members, .n_peers = cluster.n,
				    .election_ms = a.election_ms, .heartbeat_ms = a.heartbeat_ms,
				    .snapshot_threshold = a.snapshot_count,
				    .snapshot_trailing = a.snapshot_count / 2,
				    .client_addr = client_addr, .peer = &po, .name = a.name,
				    .cluster_id = cluster.cluster_id, .join = app.member_file.joined,
				    .members = &table };
	po = (struct ms_peer_opts){ .listen_addr = a.listen_peer.addr[0] ? a.listen_peer.addr : NULL,
				    .tls = cluster.peer_https,
				    .tls_cfg = { .cert_file = a.peer_cert_file,
						 .key_file = a.peer_key_file, .ca_file = a.peer_ca_file,
						 .client_cert_auth = a.peer_client_cert_auth },
				    .log = peer_log };
	rs = (struct ms_raft_state_ops){ .snapshot = snap_take, .compress = ms_snapshot_compress,
					 .restore = snap_restore, .arg = &app };
	if (ms_raft_new(loop, &ro, &rs, &app.raft, err, sizeof(err))) {
		fprintf(stderr, "metastore: %s\n", err);
		goto cleanup;
	}
	if (ms_forward_new(loop, &app.fwd)) {
		fprintf(stderr, "metastore: out of memory\n");
		goto cleanup;
	}
	ms_forward_set_tls(app.fwd, app.client_tls);
	ms_raft_set_forwarder(app.raft, forward, app.fwd);
	ms_raft_set_unary_forwarder(app.raft, forward_unary, app.fwd);
	ms_forward_set_wait(app.fwd, wait_applied, app.raft);
	ms_forward_set_timeout(app.fwd, ms_raft_request_timeout_ms(app.raft));
	ms_server_set_applied_index(app.srv, applied_index, app.raft);
	ms_raft_serve_read_index(app.raft, app.srv);
	kv = (struct kv_service){ .mvcc = mvcc, .cluster_id = cluster.cluster_id,
				  .member_id = cluster.self_id, .raft_term = 1,
				  .max_request_bytes = a.max_request_bytes, .leases = leases,
				  .max_leases = a.max_leases, .raft = app.raft,
				  .alarms = &app.alarms, .quota_bytes = a.quota_bytes };
	app.kv = &kv;
	app.applier = (struct ms_applier){ .mvcc = mvcc, .leases = leases, .now_ms = loop_now,
					   .alarms = &app.alarms,
					   .clock_arg = loop };
	kv.applier = &app.applier;
	ms_raft_set_apply(app.raft, apply_entry, &app);
	ms_raft_on_fatal(app.raft, on_fatal, NULL);
	ms_raft_on_log(app.raft, on_log, NULL);
	ms_raft_on_removed(app.raft, on_removed, &app);
	ms_raft_on_members(app.raft, on_members, &app);
	kv_service_register(&kv, app.srv);
	e = lease_service_new(loop, &kv, &app.leases);
	if (e) {
		fprintf(stderr, "metastore: cannot start the lease service: %s\n", strerror(-e));
		goto cleanup;
	}
	lease_service_bind(app.leases, &app.applier);
	lease_service_register(app.leases, app.srv);
	hub = watch_hub_new(&kv);
	if (!hub) {
		fprintf(stderr, "metastore: out of memory\n");
		goto cleanup;
	}
	kv.changed = watch_hub_notify;
	kv.changed_arg = hub;
	app.applier.changed = watch_hub_notify;
	app.applier.changed_arg = hub;
	watch_hub_set_limit(hub, a.max_watches);
	watch_hub_register(hub, app.srv);
	snprintf(client_url, sizeof(client_url), "%s%s", a.client_https ? "" : "http://",
		 client_addr);
	e = maintenance_service_new(&kv, &maint);
	if (e) {
		fprintf(stderr, "metastore: out of memory\n");
		goto cleanup;
	}
	maintenance_service_set_log(maint, log_line);
	maintenance_service_register(maint, app.srv);
	e = cluster_service_new(&kv, a.name, client_url, cluster.peer_https, a.strict_reconfig,
				&clus);
	if (e) {
		fprintf(stderr, "metastore: out of memory\n");
		goto cleanup;
	}
	cluster_service_register(clus, app.srv);
	snapshot_stream_register(app.srv, &kv, &app.snap, log_line);
	move_leader_register(app.srv, &kv, loop);
	auth = ms_auth_new(a.bcrypt_cost, (int64_t)a.auth_token_ttl_s * 1000);
	if (!auth) {
		fprintf(stderr, "metastore: out of memory\n");
		goto cleanup;
	}
	authsvc = (struct auth_service){ .auth = auth, .kv = &kv, .loop = loop };
	kv.auth = auth;
	app.applier.auth = auth;
	/* raft snapshots carry the auth state too (before the log is replayed) */
	app.snap.extra_dump = ms_auth_dump;
	app.snap.extra_load = ms_auth_load;
	app.snap.extra_arg = auth;
	auth_service_register(&authsvc, app.srv);
	watch_hub_set_permit(hub, auth_service_watch_permitted, &authsvc);
	watch_hub_set_ready(hub, member_ready, app.raft);
	ms_raft_on_restore(app.raft, wake_watchers, &app);
	ms_raft_on_ready(app.raft, wake_watchers, &app);
	/* a restored member's log starts from its seed; a raft snapshot, if any, replaces it */
	e = ms_restore_load(a.data_dir, &app.snap, (int64_t)uv_now(loop), &seed_rev, err,
			    sizeof(err));
	if (e < 0) {
		fprintf(stderr, "metastore: %s; refusing to start\n", err);
		goto cleanup;
	}
	if (e > 0)
		fprintf(stderr, "metastore: state restored from %s/%s (revision %lld)\n",
			a.data_dir, MS_RESTORE_SEED, (long long)seed_rev);
	/* replays the log (a single member applies it here, before serving anyone) */
	if (ms_raft_start(app.raft, err, sizeof(err))) {
		fprintf(stderr, "metastore: %s\n", err);
		goto cleanup;
	}
	/* from here on batch records reach their probes once per loop iteration (the replay's
	 * records right now) */
	e = ms_trace_start(loop);
	if (e) {
		fprintf(stderr, "metastore: cannot start the probe batches: %s\n", uv_strerror(e));
		goto cleanup;
	}

	uv_signal_init(loop, &app.sigint);
	uv_signal_init(loop, &app.sigterm);
	app.sigint.data = app.sigterm.data = &app;
	uv_signal_start(&app.sigint, on_signal, SIGINT);
	uv_signal_start(&app.sigterm, on_signal, SIGTERM);

	fprintf(stderr,
		"metastore: serving gRPC on %s:%u%s (member %s id %016llx, %zu member%s, revision %lld, "
		"data dir %s)\n",
		a.host, ms_server_port(app.srv),
		app.client_tls ? (a.client_cert_auth ? " over TLS, client certificates verified" :
				  " over TLS") : "",
		a.name, (unsigned long long)cluster.self_id,
		table.n, table.n == 1 ? "" : "s", (long long)ms_mvcc_rev(mvcc), a.data_dir);
	uv_run(loop, UV_RUN_DEFAULT);
	rc = 0;
cleanup:
	if (rc) {
		/* let the loop close what was opened before the failure */
		ms_raft_stop(app.raft);
		ms_forward_stop(app.fwd);
		if (app.srv)
			ms_server_shutdown(app.srv);
		lease_service_stop(app.leases);
		uv_run(loop, UV_RUN_DEFAULT);
	}
	/* records of the last iteration reach their probes; the close runs on the loop */
	ms_trace_stop();
	uv_run(loop, UV_RUN_DEFAULT);
	/* libraft has closed the dir: its open segment is a closed one now */
	if (app.stopped && ms_integrity_record_stop(raft_dir, app.committed, err, sizeof(err))) {
		fprintf(stderr, "metastore: %s\n", err);
		rc = 1;
	}
	ms_raft_free(app.raft);
	ms_forward_free(app.fwd);
	ms_server_free(app.srv);
	ms_tls_ctx_free(app.client_tls);
	lease_service_free(app.leases);
	maintenance_service_free(maint);
	cluster_service_free(clus);
	ms_auth_free(auth);
	watch_hub_free(hub);
	ms_lease_table_free(leases);
	ms_mvcc_free(mvcc);
	uv_loop_close(loop);
	return rc;
}
