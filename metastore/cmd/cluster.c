/* Cluster membership from the command line: --initial-cluster parsing and member ids. */
#include "cmd/cluster.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft/members.h"

uint64_t ms_cluster_id_of(const char *kind, const char *name)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (const char *p = kind; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
	return h ? h : 1;
}

static uint64_t cluster_id(const struct ms_cluster *c)
{
	char buf[MS_CLUSTER_MAX_MEMBERS * 80];
	size_t off = 0;

	/* every member derives the same id from the same member list */
	for (size_t i = 0; i < c->n && off < sizeof(buf); i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s,", c->members[i].name);
	return ms_cluster_id_of("cluster:", buf);
}

int ms_cluster_parse(const char *initial_cluster, const char *self, struct ms_cluster *c,
		     char *err, size_t errlen)
{
	const char *p = initial_cluster;

	memset(c, 0, sizeof(*c));
	if (!p) {
		snprintf(c->members[0].name, sizeof(c->members[0].name), "%s", self);
		snprintf(c->members[0].address, sizeof(c->members[0].address), "127.0.0.1:0");
		c->members[0].id = ms_cluster_id_of("member:", self);
		c->n = 1;
		goto done;
	}
	while (*p) {
		size_t len = strcspn(p, ",");
		const char *eq = memchr(p, '=', len);
		struct ms_raft_peer *m = &c->members[c->n];
		bool https = false;

		if (c->n == MS_CLUSTER_MAX_MEMBERS) {
			snprintf(err, errlen, "--initial-cluster: more than %d members",
				 MS_CLUSTER_MAX_MEMBERS);
			return -EINVAL;
		}
		if (!eq || eq == p || (size_t)(eq - p) >= sizeof(m->name) ||
		    ms_members_parse_url(eq + 1, len - (size_t)(eq - p) - 1, m->address,
				 sizeof(m->address), &https)) {
			snprintf(err, errlen,
				 "--initial-cluster: '%.*s' is not name=http(s)://IPv4:PORT", (int)len,
				 p);
			return -EINVAL;
		}
		/* one transport for all peers: TLS or not */
		if (c->n && https != c->peer_https) {
			snprintf(err, errlen, "--initial-cluster: mixes http:// and https:// peer URLs");
			return -EINVAL;
		}
		c->peer_https = https;
		memcpy(m->name, p, (size_t)(eq - p));
		m->id = ms_cluster_id_of("member:", m->name);
		for (size_t i = 0; i < c->n; i++) {
			if (c->members[i].id == m->id) {
				snprintf(err, errlen, "--initial-cluster: member '%s' twice", m->name);
				return -EINVAL;
			}
		}
		c->n++;
		p += len;
		if (*p == ',')
			p++;
	}
done:
	c->self_id = ms_cluster_id_of("member:", self);
	for (size_t i = 0; i < c->n; i++)
		if (c->members[i].id == c->self_id) {
			c->cluster_id = cluster_id(c);
			return 0;
		}
	snprintf(err, errlen, "--initial-cluster has no member named '%s' (--name)", self);
	return -EINVAL;
}

int ms_cluster_check_peers(const struct ms_cluster *c, const struct ms_args *a, char *err,
			   size_t errlen)
{
	const struct ms_raft_peer *self = NULL;
	bool https = c->peer_https, tls_flags = a->peer_cert_file || a->peer_key_file ||
						 a->peer_ca_file || a->peer_client_cert_auth;

	for (size_t i = 0; i < c->n; i++)
		if (c->members[i].id == c->self_id)
			self = &c->members[i];
	if (a->advertise_peer.addr[0] && (!self || strcmp(a->advertise_peer.addr, self->address) ||
					  a->advertise_peer.https != https)) {
		snprintf(err, errlen, "--initial-advertise-peer-urls %s://%s is not this member's URL in "
			 "--initial-cluster", a->advertise_peer.https ? "https" : "http",
			 a->advertise_peer.addr);
		return -EINVAL;
	}
	if (a->listen_peer.addr[0] && a->listen_peer.https != https) {
		snprintf(err, errlen, "--listen-peer-urls is %s:// but the peer URLs are %s://",
			 a->listen_peer.https ? "https" : "http", https ? "https" : "http");
		return -EINVAL;
	}
	if (https && (!a->peer_cert_file || !a->peer_key_file)) {
		snprintf(err, errlen, "https:// peer URLs need --peer-cert-file and --peer-key-file");
		return -EINVAL;
	}
	/* TLS flags on plain peers would leave an operator believing the peers are protected */
	if (!https && tls_flags) {
		snprintf(err, errlen, "the peer TLS flags need https:// peer URLs in --initial-cluster");
		return -EINVAL;
	}
	return 0;
}
