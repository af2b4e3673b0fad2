/* metastore command line: parsing into settings, and the --help text. */
#ifndef MS_ARGS_H
#define MS_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MS_DEFAULT_HOST "127.0.0.1"
#define MS_DEFAULT_PORT 2379
/* etcd's defaults: 1.5 MiB per request; gRPC may carry 512 KiB more of framing. */
#define MS_DEFAULT_MAX_REQUEST_BYTES (1536u * 1024)
#define MS_GRPC_OVERHEAD_BYTES (512u * 1024)
#define MS_DEFAULT_MAX_CONNECTIONS 1024
/* The preface and SETTINGS come in a client's first round trip; 10 s allows for a slow
 * network while bounding what a silent connection holds. Idle: no open stream for 5 min. */
#define MS_DEFAULT_HANDSHAKE_TIMEOUT_MS 10000
#define MS_DEFAULT_IDLE_TIMEOUT_MS 300000
/* etcd's defaults: bcrypt cost 10, simple tokens live 300 s after their last use. */
#define MS_DEFAULT_BCRYPT_COST 10
#define MS_DEFAULT_AUTH_TOKEN_TTL_S 300
/* etcd's default --quota-backend-bytes (2 GiB). */
#define MS_DEFAULT_QUOTA_BYTES (2LL << 30)

/* One peer URL: its address and whether it is https://. addr is "" when not given. */
struct ms_peer_url {
	char addr[64];
	bool https;
};

struct ms_args {
	char host[64];
	uint16_t port;
	const char *data_dir;
	const char *name;
	size_t max_request_bytes;
	unsigned max_connections;
	unsigned handshake_timeout_ms, idle_timeout_ms; /* 0: none */
	double rate_limit; /* calls per second, 0: none */
	double rate_burst; /* 0: the rate limit, at least 1 */
	const char *initial_cluster; /* NULL: a single member */
	unsigned election_ms, heartbeat_ms, snapshot_count;
	size_t max_leases, max_watches;
	unsigned bcrypt_cost;      /* auth password hashes */
	unsigned auth_token_ttl_s; /* auth simple tokens */
	int64_t quota_bytes;       /* backend quota; -1: none */
	struct ms_peer_url listen_peer;    /* --listen-peer-urls */
	struct ms_peer_url advertise_peer; /* --initial-advertise-peer-urls */
	const char *peer_cert_file, *peer_key_file, *peer_ca_file; /* NULL: not given */
	bool peer_client_cert_auth;
	bool client_https;                 /* --listen-client-urls https://: clients speak TLS */
	struct ms_peer_url advertise_client; /* --advertise-client-urls; addr "": the listen one */
	const char *cert_file, *key_file, *ca_file; /* client TLS; NULL: not given */
	bool client_cert_auth;             /* clients need a certificate those CAs signed */
	const char *restore_file; /* --restore: NULL when not given */
	bool join;                /* --initial-cluster-state existing */
	bool strict_reconfig;     /* --strict-reconfig-check (default true, as etcd 3.4) */
	bool help, version;
};

/* Parses argv ("--opt value" or "--opt=value"). Returns 0, or -EINVAL with a one-line
 * message in err. Never prints. */
int ms_args_parse(int argc, char **argv, struct ms_args *a, char *err, size_t errlen);

/* Writes the --help text. */
void ms_args_help(FILE *out);

#endif /* MS_ARGS_H */
