/* metastore: an etcd-v3-compatible key-value server (gRPC over HTTP/2, MVCC store). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#include "args.h"
#include "kv_service.h"
#include "lease_service.h"
#include "maintenance_service.h"
#include "mvcc.h"
#include "server.h"
#include "watch_service.h"

#define MS_VERSION "0.1.0"
/* Raft node id of a single-node store (the `node` of the mvcc probes). */
#define MS_NODE_ID 1

struct app {
	struct ms_server *srv;
	struct lease_service *leases;
	uv_signal_t sigint, sigterm;
};

static void on_signal(uv_signal_t *h, int signum)
{
	struct app *app = h->data;

	fprintf(stderr, "metastore: %s, shutting down\n", strsignal(signum));
	ms_server_shutdown(app->srv);
	lease_service_stop(app->leases);
	uv_close((uv_handle_t *)&app->sigint, NULL);
	uv_close((uv_handle_t *)&app->sigterm, NULL);
}

/* Stable non-zero 64-bit id from a string (FNV-1a), for cluster and member ids. */
static uint64_t id_of(const char *a, const char *b)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (const char *p = a; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
	for (const char *p = b; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
	return h ? h : 1;
}

int main(int argc, char **argv)
{
	struct ms_args a;
	struct app app = { 0 };
	struct ms_mvcc *mvcc = NULL;
	struct watch_hub *hub = NULL;
	struct ms_lease_table *leases = NULL;
	struct maintenance_service *maint = NULL;
	char client_url[96];
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
	if (mkdir(a.data_dir, 0700) && errno != EEXIST) {
		fprintf(stderr, "metastore: cannot create data dir %s: %s\n", a.data_dir,
			strerror(errno));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	mvcc = ms_mvcc_new(MS_NODE_ID);
	leases = ms_lease_table_new();
	if (!mvcc || !leases) {
		ms_mvcc_free(mvcc);
		ms_lease_table_free(leases);
		fprintf(stderr, "metastore: out of memory\n");
		return 1;
	}
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
	kv = (struct kv_service){ .mvcc = mvcc, .cluster_id = id_of("cluster:", a.name),
				  .member_id = id_of("member:", a.name), .raft_term = 1,
				  .max_request_bytes = a.max_request_bytes, .leases = leases };
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
	watch_hub_register(hub, app.srv);
	snprintf(client_url, sizeof(client_url), "http://%s:%u", a.host, ms_server_port(app.srv));
	e = maintenance_service_new(&kv, a.name, client_url, &maint);
	if (e) {
		fprintf(stderr, "metastore: out of memory\n");
		goto cleanup;
	}
	maintenance_service_register(maint, app.srv);

	uv_signal_init(loop, &app.sigint);
	uv_signal_init(loop, &app.sigterm);
	app.sigint.data = app.sigterm.data = &app;
	uv_signal_start(&app.sigint, on_signal, SIGINT);
	uv_signal_start(&app.sigterm, on_signal, SIGTERM);

	fprintf(stderr, "metastore: serving gRPC on %s:%u (member %s, data dir %s)\n", a.host,
		ms_server_port(app.srv), a.name, a.data_dir);
	uv_run(loop, UV_RUN_DEFAULT);
	rc = 0;
cleanup:
	ms_server_free(app.srv);
	lease_service_free(app.leases);
	maintenance_service_free(maint);
	watch_hub_free(hub);
	ms_lease_table_free(leases);
	ms_mvcc_free(mvcc);
	uv_loop_close(loop);
	return rc;
}
