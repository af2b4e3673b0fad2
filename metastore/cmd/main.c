/* metastore: an etcd-v3-compatible key-value server (gRPC over HTTP/2, MVCC, raft). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#include "cmd/args.h"
#include "api/auth_service.h"
#include "cmd/cluster.h"
#include "rpc/forward.h"
#include "api/kv_service.h"
#include "api/lease_service.h"
#include "api/maintenance_service.h"
#include "store/mvcc.h"
#include "raft/raftnode.h"
#include "rpc/server.h"
#include "store/snapshot.h"
#include "probe/trace.h"
#include "probe/trace_loop.h"
#include "api/watch_service.h"

#define MS_VERSION "0.2.0"

struct app {
	struct ms_server *srv;
	struct lease_service *leases;
	struct ms_raft *raft;
	struct ms_forward *fwd;
	struct kv_service *kv;
	struct ms_snap_parts snap;
	uv_signal_t sigint, sigterm;
};

static void on_signal(uv_signal_t *h, int signum)
{
	struct app *app = h->data;

	fprintf(stderr, "metastore: %s, shutting down\n", strsignal(signum));
	ms_raft_stop(app->raft);
	ms_forward_stop(app->fwd);
	ms_server_shutdown(app->srv);
	lease_service_stop(app->leases);
	uv_close((uv_handle_t *)&app->sigint, NULL);
	uv_close((uv_handle_t *)&app->sigterm, NULL);
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

static int forward(void *ctx, const char *leader, struct grpc_call *call, const uint8_t *msg,
		   size_t len)
{
	return ms_forward_call(ctx, leader, call, msg, len);
}

/* After a snapshot replaced the store, watchers read on from their positions. */
static void on_restored(void *arg)
{
	struct app *app = arg;

	if (app->kv->changed)
		app->kv->changed(app->kv->changed_arg);
}

int main(int argc, char **argv)
{
	struct ms_args a;
	struct app app = { 0 };
	struct ms_mvcc *mvcc = NULL;
	struct watch_hub *hub = NULL;
	struct ms_lease_table *leases = NULL;
	struct maintenance_service *maint = NULL;
	struct ms_auth *auth = NULL;
	struct auth_service authsvc;
	char client_url[96], client_addr[80], raft_dir[4096];
	struct ms_cluster cluster;
	struct ms_raft_opts ro;
	struct ms_raft_state_ops rs;
	struct kv_service kv;
	struct ms_server_opts so;
	uv_loop_t *loop = uv_default_loop();
	char err[256];
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
	if (ms_cluster_parse(a.initial_cluster, a.name, &cluster, err, sizeof(err))) {
		fprintf(stderr, "metastore: %s (see --help)\n", err);
		return 2;
	}
	snprintf(raft_dir, sizeof(raft_dir), "%s/raft", a.data_dir);
	if ((mkdir(a.data_dir, 0700) && errno != EEXIST) ||
	    (mkdir(raft_dir, 0700) && errno != EEXIST)) {
		fprintf(stderr, "metastore: cannot create data dir %s: %s\n", raft_dir,
			strerror(errno));
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
	app.snap = (struct ms_snap_parts){ .mvcc = mvcc, .leases = leases };
	so = (struct ms_server_opts){ .host = a.host, .port = a.port,
				      .max_connections = a.max_connections,
				      .max_recv_bytes = a.max_request_bytes + MS_GRPC_OVERHEAD_BYTES,
				      .rate_limit = a.rate_limit,
				      .rate_burst = a.rate_burst > 0 ? a.rate_burst : a.rate_limit };
	e = ms_server_new(loop, &so, &app.srv);
	if (e) {
		fprintf(stderr, "metastore: cannot listen on %s:%u: %s\n", a.host, a.port,
			uv_strerror(e));
		goto cleanup;
	}
	snprintf(client_addr, sizeof(client_addr), "%s:%u", a.host, ms_server_port(app.srv));
	ro = (struct ms_raft_opts){ .node_id = cluster.self_id, .dir = raft_dir,
				    .peers = cluster.members, .n_peers = cluster.n,
				    .election_ms = a.election_ms, .heartbeat_ms = a.heartbeat_ms,
				    .snapshot_threshold = a.snapshot_count,
				    .snapshot_trailing = a.snapshot_count / 2,
				    .client_addr = client_addr };
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
	ms_raft_set_forwarder(app.raft, forward, app.fwd);
	kv = (struct kv_service){ .mvcc = mvcc, .cluster_id = cluster.cluster_id,
				  .member_id = cluster.self_id, .raft_term = 1,
				  .max_request_bytes = a.max_request_bytes, .leases = leases,
				  .max_leases = a.max_leases, .raft = app.raft };
	app.kv = &kv;
	kv_service_register(&kv, app.srv);
	e = lease_service_new(loop, &kv, &app.leases);
	if (e) {
		fprintf(stderr, "metastore: cannot start the lease service: %s\n", strerror(-e));
		goto cleanup;
	}
	lease_service_register(app.leases, app.srv);
	hub = watch_hub_new(&kv);
	if (!hub) {
		fprintf(stderr, "metastore: out of memory\n");
		goto cleanup;
	}
	kv.changed = watch_hub_notify;
	kv.changed_arg = hub;
	watch_hub_set_limit(hub, a.max_watches);
	watch_hub_register(hub, app.srv);
	snprintf(client_url, sizeof(client_url), "http://%s:%u", a.host, ms_server_port(app.srv));
	e = maintenance_service_new(&kv, a.name, client_url, &maint);
	if (e) {
		fprintf(stderr, "metastore: out of memory\n");
		goto cleanup;
	}
	maintenance_service_register(maint, app.srv);
	auth = ms_auth_new(a.bcrypt_cost, (int64_t)a.auth_token_ttl_s * 1000);
	if (!auth) {
		fprintf(stderr, "metastore: out of memory\n");
		goto cleanup;
	}
	authsvc = (struct auth_service){ .auth = auth, .kv = &kv, .loop = loop };
	/* raft snapshots carry the auth state too (before the log is replayed) */
	app.snap.extra_dump = ms_auth_dump;
	app.snap.extra_load = ms_auth_load;
	app.snap.extra_arg = auth;
	auth_service_register(&authsvc, app.srv);
	watch_hub_set_permit(hub, auth_service_watch_permitted, &authsvc);
	ms_raft_on_restore(app.raft, on_restored, &app);
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
		"metastore: serving gRPC on %s:%u (member %s id %016llx, %zu member%s, revision %lld, "
		"data dir %s)\n",
		a.host, ms_server_port(app.srv), a.name, (unsigned long long)cluster.self_id,
		cluster.n, cluster.n == 1 ? "" : "s", (long long)ms_mvcc_rev(mvcc), a.data_dir);
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
	ms_raft_free(app.raft);
	ms_forward_free(app.fwd);
	ms_server_free(app.srv);
	lease_service_free(app.leases);
	maintenance_service_free(maint);
	ms_auth_free(auth);
	watch_hub_free(hub);
	ms_lease_table_free(leases);
	ms_mvcc_free(mvcc);
	uv_loop_close(loop);
	return rc;
}
