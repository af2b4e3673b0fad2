/* metastore command line: parsing into settings, and the --help text. */
#include "cmd/args.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ms_cli.h"

enum opt_id { OPT_LISTEN, OPT_LISTEN_URLS, OPT_DATA_DIR, OPT_NAME, OPT_MAX_REQ, OPT_MAX_CONN,
	      OPT_HANDSHAKE_TIMEOUT, OPT_IDLE_TIMEOUT,
	      OPT_RATE_LIMIT, OPT_RATE_BURST, OPT_INITIAL_CLUSTER, OPT_ELECTION, OPT_HEARTBEAT,
	      OPT_SNAPSHOT_COUNT, OPT_MAX_LEASES, OPT_MAX_WATCHES, OPT_BCRYPT_COST, OPT_AUTH_TOKEN_TTL,
	      OPT_QUOTA, OPT_LISTEN_PEER, OPT_ADVERTISE_PEER, OPT_PEER_CERT, OPT_PEER_KEY,
	      OPT_PEER_CA, OPT_PEER_CERT_AUTH, OPT_ADVERTISE_CLIENT, OPT_CERT, OPT_KEY, OPT_CA,
	      OPT_CERT_AUTH, OPT_RESTORE, OPT_CLUSTER_STATE, OPT_STRICT_RECONFIG, OPT_HELP,
	      OPT_VERSION };

static const struct ms_cli_opt options[] = {
	{ "listen", OPT_LISTEN, "IP:PORT", "client gRPC address (default 127.0.0.1:2379)" },
	{ "listen-client-urls", OPT_LISTEN_URLS, "URL", "etcd-style form of --listen: http://IP:PORT, or https://IP:PORT for TLS clients" },
	{ "advertise-client-urls", OPT_ADVERTISE_CLIENT, "URL", "this member's client URL as members list it and followers forward to it (default: the listen URL)" },
	{ "cert-file", OPT_CERT, "FILE", "certificate (PEM chain) for https:// clients; also presented by a follower forwarding to its leader" },
	{ "key-file", OPT_KEY, "FILE", "its private key (PEM)" },
	{ "trusted-ca-file", OPT_CA, "FILE", "CAs that sign client certificates and the leader's certificate (default: the system's)" },
	{ "client-cert-auth", OPT_CERT_AUTH, NULL, "clients must present a certificate signed by those CAs; with auth enabled its CN is the user" },
	{ "data-dir", OPT_DATA_DIR, "DIR", "data directory (default ./default.metastore)" },
	/* Response headers carry ids hashed from the name, so they stay the same across runs. */
	{ "name", OPT_NAME, "NAME", "member name; cluster/member ids derive from it (default default)" },
	/* As etcd: gRPC reads messages up to N + 512 KiB, a write above N is refused with
	 * "etcdserver: request is too large". */
	{ "max-request-bytes", OPT_MAX_REQ, "N", "largest write request (default 1572864)" },
	{ "max-connections", OPT_MAX_CONN, "N", "client connections served at once; at the limit a new one replaces the oldest still in its handshake, else the longest idle (default 1024)" },
	{ "handshake-timeout", OPT_HANDSHAKE_TIMEOUT, "MS", "close a connection that has not sent the HTTP/2 preface and SETTINGS by then (default 10000; 0: never)" },
	{ "idle-timeout", OPT_IDLE_TIMEOUT, "MS", "GOAWAY and close a connection without an open stream for this long (default 300000; 0: never)" },
	{ "max-leases", OPT_MAX_LEASES, "N", "leases alive at once; grants beyond: ResourceExhausted (default 100000; the same on every member)" },
	{ "max-watches", OPT_MAX_WATCHES, "N", "watchers open at once over all streams; creates beyond are canceled (default 100000)" },
	{ "rate-limit", OPT_RATE_LIMIT, "N", "calls per second served, over all clients; beyond: ResourceExhausted (default 0: none)" },
	{ "rate-burst", OPT_RATE_BURST, "N", "calls allowed at once before --rate-limit applies (default: the limit)" },
	{ "initial-cluster", OPT_INITIAL_CLUSTER, "N=URL,...", "raft members, name=http(s)://IP:PORT (peer URL) each, the same string on every member (default: this member alone)" },
	{ "initial-cluster-state", OPT_CLUSTER_STATE, "new|existing", "new: bootstrap --initial-cluster; existing: join a running cluster that added this member (etcdctl member add), learning the member id from a peer (default new)" },
	{ "strict-reconfig-check", OPT_STRICT_RECONFIG, "true|false", "refuse membership changes that would leave too few started or connected voters, as etcd (default true)" },
	{ "listen-peer-urls", OPT_LISTEN_PEER, "URL", "raft peer address to bind, http(s)://IP:PORT (default: this member's URL in --initial-cluster; a member alone binds none)" },
	{ "initial-advertise-peer-urls", OPT_ADVERTISE_PEER, "URL", "this member's peer URL; must be its entry in --initial-cluster" },
	{ "peer-cert-file", OPT_PEER_CERT, "FILE", "certificate (PEM chain) for https:// peers, as server and as client" },
	{ "peer-key-file", OPT_PEER_KEY, "FILE", "its private key (PEM)" },
	{ "peer-trusted-ca-file", OPT_PEER_CA, "FILE", "CAs that sign the peers' certificates (default: the system's)" },
	{ "peer-client-cert-auth", OPT_PEER_CERT_AUTH, NULL, "peers must present a certificate signed by those CAs" },
	{ "election-timeout", OPT_ELECTION, "MS", "raft election timeout (default 1000)" },
	{ "heartbeat-interval", OPT_HEARTBEAT, "MS", "raft heartbeat interval (default 100)" },
	{ "snapshot-count", OPT_SNAPSHOT_COUNT, "N", "raft entries between snapshots (default 100000, as etcd)" },
	{ "bcrypt-cost", OPT_BCRYPT_COST, "N", "bcrypt cost of auth password hashes, 4..31 (default 10)" },
	{ "auth-token-ttl", OPT_AUTH_TOKEN_TTL, "S", "seconds an unused auth token stays valid (default 300)" },
	/* As etcd: 0 is the default, a negative size no quota at all. */
	{ "quota-backend-bytes", OPT_QUOTA, "N", "store size (keys, values and 48 bytes per revision held) at which writes raise NOSPACE (default 0: 2 GiB; < 0: no quota)" },
	{ "restore", OPT_RESTORE, "FILE", "start a new member from a snapshot file (etcdctl snapshot save); --data-dir must not exist yet" },
	{ "version", OPT_VERSION, NULL, "print the version" },
	{ "help", OPT_HELP, NULL, "this text" },
};

#define NR_OPTIONS (sizeof(options) / sizeof(options[0]))

static int parse_hostport(const char *v, struct ms_args *a)
{
	const char *colon = strrchr(v, ':');
	unsigned char addr[4];
	char *end;
	long port;

	if (!colon || colon == v || (size_t)(colon - v) >= sizeof(a->host))
		return -EINVAL;
	memcpy(a->host, v, (size_t)(colon - v));
	a->host[colon - v] = '\0';
	if (inet_pton(AF_INET, a->host, addr) != 1)
		return -EINVAL;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port < 0 || port > 65535)
		return -EINVAL;
	a->port = (uint16_t)port;
	return 0;
}

/* The first of etcd's comma-separated peer URLs, http(s)://IPv4:PORT[/], as IP:PORT. */
static int parse_peer_url(const char *flag, const char *v, struct ms_peer_url *u, char *err,
			  size_t len)
{
	size_t skip = strncmp(v, "https://", 8) == 0 ? 8 : strncmp(v, "http://", 7) == 0 ? 7 : 0;
	size_t l = strcspn(v + skip, ",");
	struct ms_args tmp;

	if (l && v[skip + l - 1] == '/')
		l--;
	if (!skip || l >= sizeof(u->addr)) {
		snprintf(err, len, "--%s: '%s' is not an http(s)://IPv4:PORT URL", flag, v);
		return -EINVAL;
	}
	snprintf(u->addr, sizeof(u->addr), "%.*s", (int)l, v + skip);
	if (parse_hostport(u->addr, &tmp)) {
		snprintf(err, len, "--%s: '%s' is not an http(s)://IPv4:PORT URL", flag, v);
		u->addr[0] = '\0';
		return -EINVAL;
	}
	u->https = skip == 8;
	return 0;
}

static int parse_size(const char *v, unsigned long long min, unsigned long long max,
		      unsigned long long *out)
{
	char *end;
	unsigned long long n;

	errno = 0;
	if (*v < '0' || *v > '9')
		return -EINVAL;
	n = strtoull(v, &end, 10);
	if (*end || errno || n < min || n > max)
		return -EINVAL;
	*out = n;
	return 0;
}

static int apply(struct ms_args *a, enum opt_id id, const char *v, char *err, size_t len)
{
	unsigned long long n;

	switch (id) {
	case OPT_LISTEN:
		if (parse_hostport(v, a)) {
			snprintf(err, len, "--listen: invalid address '%s' (want IPv4:PORT)", v);
			return -EINVAL;
		}
		return 0;
	case OPT_LISTEN_URLS: {
		/* the first URL: cleartext HTTP/2, or TLS for https:// */
		size_t skip = strncmp(v, "https://", 8) == 0 ? 8 : strncmp(v, "http://", 7) == 0 ? 7 : 0;
		char first[128];
		size_t l = strcspn(v + skip, ",/");

		if (!skip) {
			snprintf(err, len, "--listen-client-urls: '%s' is not an http(s):// URL", v);
			return -EINVAL;
		}
		snprintf(first, sizeof(first), "%.*s", (int)l, v + skip);
		if (parse_hostport(first, a)) {
			snprintf(err, len, "--listen-client-urls: invalid address in '%s'", v);
			return -EINVAL;
		}
		a->client_https = skip == 8;
		return 0;
	}
	case OPT_ADVERTISE_CLIENT:
		return parse_peer_url("advertise-client-urls", v, &a->advertise_client, err, len);
	case OPT_CERT:
	case OPT_KEY:
	case OPT_CA:
		if (!*v) {
			snprintf(err, len, "--%s: empty file name", id == OPT_CERT ? "cert-file" :
				 id == OPT_KEY ? "key-file" : "trusted-ca-file");
			return -EINVAL;
		}
		*(id == OPT_CERT ? &a->cert_file : id == OPT_KEY ? &a->key_file : &a->ca_file) = v;
		return 0;
	case OPT_CERT_AUTH:
		a->client_cert_auth = true;
		return 0;
	case OPT_DATA_DIR:
		a->data_dir = v;
		return 0;
	case OPT_RESTORE:
		a->restore_file = v;
		return 0;
	case OPT_NAME:
		if (!*v) {
			snprintf(err, len, "--name: empty name");
			return -EINVAL;
		}
		a->name = v;
		return 0;
	case OPT_MAX_REQ:
		if (parse_size(v, 1, 64ull << 20, &n)) {
			snprintf(err, len, "--max-request-bytes: '%s' is not a size in [1, 67108864]", v);
			return -EINVAL;
		}
		a->max_request_bytes = (size_t)n;
		return 0;
	case OPT_MAX_CONN:
		if (parse_size(v, 1, 1000000, &n)) {
			snprintf(err, len, "--max-connections: '%s' is not a number in [1, 1000000]", v);
			return -EINVAL;
		}
		a->max_connections = (unsigned)n;
		return 0;
	case OPT_HANDSHAKE_TIMEOUT:
	case OPT_IDLE_TIMEOUT:
		if (parse_size(v, 0, 86400000, &n)) {
			snprintf(err, len, "--%s: '%s' is not a number of ms in [0, 86400000]",
				 id == OPT_HANDSHAKE_TIMEOUT ? "handshake-timeout" : "idle-timeout", v);
			return -EINVAL;
		}
		if (id == OPT_HANDSHAKE_TIMEOUT)
			a->handshake_timeout_ms = (unsigned)n;
		else
			a->idle_timeout_ms = (unsigned)n;
		return 0;
	case OPT_RATE_LIMIT:
	case OPT_RATE_BURST: {
		char *end;
		double d;

		errno = 0;
		d = strtod(v, &end);
		if (!*v || *end || errno || !(d >= 0) || d > 1e9) {
			snprintf(err, len, "--%s: '%s' is not a number in [0, 1e9]",
				 id == OPT_RATE_LIMIT ? "rate-limit" : "rate-burst", v);
			return -EINVAL;
		}
		if (id == OPT_RATE_LIMIT)
			a->rate_limit = d;
		else
			a->rate_burst = d;
		return 0;
	}
	case OPT_INITIAL_CLUSTER:
		if (!*v) {
			snprintf(err, len, "--initial-cluster: empty");
			return -EINVAL;
		}
		a->initial_cluster = v;
		return 0;
	case OPT_ELECTION:
	case OPT_HEARTBEAT:
		if (parse_size(v, 10, 60000, &n)) {
			snprintf(err, len, "--%s: '%s' is not a number of ms in [10, 60000]",
				 id == OPT_ELECTION ? "election-timeout" : "heartbeat-interval", v);
			return -EINVAL;
		}
		if (id == OPT_ELECTION)
			a->election_ms = (unsigned)n;
		else
			a->heartbeat_ms = (unsigned)n;
		return 0;
	case OPT_MAX_LEASES:
		if (parse_size(v, 1, 100000000, &n)) {
			snprintf(err, len, "--max-leases: '%s' is not a number in [1, 100000000]", v);
			return -EINVAL;
		}
		a->max_leases = (size_t)n;
		return 0;
	case OPT_MAX_WATCHES:
		if (parse_size(v, 1, 100000000, &n)) {
			snprintf(err, len, "--max-watches: '%s' is not a number in [1, 100000000]", v);
			return -EINVAL;
		}
		a->max_watches = (size_t)n;
		return 0;
	case OPT_SNAPSHOT_COUNT:
		if (parse_size(v, 2, 100000000, &n)) {
			snprintf(err, len, "--snapshot-count: '%s' is not a number in [2, 100000000]", v);
			return -EINVAL;
		}
		a->snapshot_count = (unsigned)n;
		return 0;
	case OPT_BCRYPT_COST:
		if (parse_size(v, 4, 31, &n)) {
			snprintf(err, len, "--bcrypt-cost: '%s' is not a number in [4, 31]", v);
			return -EINVAL;
		}
		a->bcrypt_cost = (unsigned)n;
		return 0;
	case OPT_QUOTA: {
		char *end;
		long long q;

		errno = 0;
		q = strtoll(v, &end, 10);
		if (!*v || *end || errno) {
			snprintf(err, len, "--quota-backend-bytes: '%s' is not a number of bytes", v);
			return -EINVAL;
		}
		a->quota_bytes = q == 0 ? MS_DEFAULT_QUOTA_BYTES : q < 0 ? -1 : q;
		return 0;
	}
	case OPT_AUTH_TOKEN_TTL:
		if (parse_size(v, 1, 1000000, &n)) {
			snprintf(err, len, "--auth-token-ttl: '%s' is not a number of seconds in [1, 1000000]", v);
			return -EINVAL;
		}
		a->auth_token_ttl_s = (unsigned)n;
		return 0;
	case OPT_LISTEN_PEER:
		return parse_peer_url("listen-peer-urls", v, &a->listen_peer, err, len);
	case OPT_ADVERTISE_PEER:
		return parse_peer_url("initial-advertise-peer-urls", v, &a->advertise_peer, err, len);
	case OPT_PEER_CERT:
	case OPT_PEER_KEY:
	case OPT_PEER_CA:
		if (!*v) {
			snprintf(err, len, "--%s: empty file name", id == OPT_PEER_CERT ? "peer-cert-file" :
				 id == OPT_PEER_KEY ? "peer-key-file" : "peer-trusted-ca-file");
			return -EINVAL;
		}
		*(id == OPT_PEER_CERT ? &a->peer_cert_file : id == OPT_PEER_KEY ? &a->peer_key_file :
					&a->peer_ca_file) = v;
		return 0;
	case OPT_PEER_CERT_AUTH:
		a->peer_client_cert_auth = true;
		return 0;
	case OPT_CLUSTER_STATE:
		if (strcmp(v, "new") && strcmp(v, "existing")) {
			snprintf(err, len, "--initial-cluster-state: '%s' is neither new nor existing",
				 v);
			return -EINVAL;
		}
		a->join = strcmp(v, "existing") == 0;
		return 0;
	case OPT_STRICT_RECONFIG:
		if (strcmp(v, "true") && strcmp(v, "false")) {
			snprintf(err, len, "--strict-reconfig-check: '%s' is neither true nor false",
				 v);
			return -EINVAL;
		}
		a->strict_reconfig = strcmp(v, "true") == 0;
		return 0;
	case OPT_HELP:
		a->help = true;
		return 0;
	case OPT_VERSION:
		a->version = true;
		return 0;
	}
	return -EINVAL;
}

int ms_args_parse(int argc, char **argv, struct ms_args *a, char *err, size_t len)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->host, sizeof(a->host), "%s", MS_DEFAULT_HOST);
	a->port = MS_DEFAULT_PORT;
	a->data_dir = "default.metastore";
	a->name = "default";
	a->max_request_bytes = MS_DEFAULT_MAX_REQUEST_BYTES;
	a->max_connections = MS_DEFAULT_MAX_CONNECTIONS;
	a->handshake_timeout_ms = MS_DEFAULT_HANDSHAKE_TIMEOUT_MS;
	a->idle_timeout_ms = MS_DEFAULT_IDLE_TIMEOUT_MS;
	a->bcrypt_cost = MS_DEFAULT_BCRYPT_COST;
	a->auth_token_ttl_s = MS_DEFAULT_AUTH_TOKEN_TTL_S;
	a->quota_bytes = MS_DEFAULT_QUOTA_BYTES;
	a->election_ms = 1000;
	a->heartbeat_ms = 100;
	a->snapshot_count = 100000;
	a->max_leases = 100000;
	a->max_watches = 100000;
	a->strict_reconfig = true;

	for (int i = 1; i < argc; i++) {
		const char *val;
		int e, id;

		/* etcd's boolean flags also take =true / =false */
		if (strcmp(argv[i], "--peer-client-cert-auth=true") == 0 ||
		    strcmp(argv[i], "--peer-client-cert-auth=false") == 0) {
			a->peer_client_cert_auth = argv[i][24] == 't';
			continue;
		}
		if (strcmp(argv[i], "--client-cert-auth=true") == 0 ||
		    strcmp(argv[i], "--client-cert-auth=false") == 0) {
			a->client_cert_auth = argv[i][19] == 't';
			continue;
		}
		e = ms_cli_next(argc, argv, &i, options, NR_OPTIONS, &id, &val, err, len);
		if (e)
			return e;
		e = apply(a, (enum opt_id)id, val, err, len);
		if (e)
			return e;
	}
	if (a->advertise_client.addr[0] && a->advertise_client.https != a->client_https) {
		snprintf(err, len, "--advertise-client-urls: its scheme must be that of "
			 "--listen-client-urls");
		return -EINVAL;
	}
	if (a->client_https && (!a->cert_file || !a->key_file)) {
		snprintf(err, len, "https:// client URLs need --cert-file and --key-file");
		return -EINVAL;
	}
	/* etcd ignores them there; here nobody runs believing clients are verified when not */
	if (!a->client_https && (a->cert_file || a->key_file || a->ca_file || a->client_cert_auth)) {
		snprintf(err, len, "--cert-file, --key-file, --trusted-ca-file and --client-cert-auth "
			 "need https:// in --listen-client-urls");
		return -EINVAL;
	}
	if (a->heartbeat_ms * 2 > a->election_ms) {
		snprintf(err, len, "--election-timeout must be at least twice --heartbeat-interval");
		return -EINVAL;
	}
	return 0;
}

void ms_args_help(FILE *out)
{
	fprintf(out, "usage: metastore [options]\n\n"
		     "An etcd-v3-compatible key-value store: gRPC over HTTP/2 (cleartext or TLS), MVCC\n"
		     "revisions, raft replication (libraft) with a durable log in the data dir.\n"
		     "Works with etcdctl (ETCDCTL_API=3).\n\noptions:\n");
	ms_cli_print_options(out, options, NR_OPTIONS);
}
