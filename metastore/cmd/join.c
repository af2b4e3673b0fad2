/* Who this member is at start-up: the data dir's table, a fetched one, or --initial-cluster. */
#include "cmd/join.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "raft/integrity.h"
#include "raft/member_fetch.h"

/* How long a peer may take for each step of the members query. */
#define FETCH_TIMEOUT_MS 5000

/* Whether the data dir holds a member.id (a member that ran here before). */
static bool has_owner(const char *data_dir)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", data_dir, MS_INTEGRITY_MEMBER_FILE);
	return access(path, F_OK) == 0;
}

/*
 * The member list from the first peer of c (not this member) that answers and lists this
 * member's peer URL. `member add` answers once the member that took it applied the change;
 * another peer may not have applied it yet, so a list without this member is asked of the
 * next peer before the start is refused (-ENOENT, with the last reason in err). On 0,
 * *self is this member's entry in the table.
 */
static int fetch(const struct ms_args *a, const struct ms_cluster *c, const char *self_addr,
		 struct ms_members *table, const struct ms_raft_peer **self, uint64_t *cluster_id,
		 char *err, size_t errlen)
{
	struct ms_tls_ctx *tls = NULL;
	struct ms_tls_cfg cfg = { .cert_file = a->peer_cert_file, .key_file = a->peer_key_file,
				  .ca_file = a->peer_ca_file };
	int e = -ENOENT;

	snprintf(err, errlen, "--initial-cluster names no other member to join");
	if (c->peer_https && (e = ms_tls_ctx_new(&cfg, &tls, err, errlen)))
		return e;
	e = -ENOENT;
	for (size_t i = 0; i < c->n && e; i++) {
		if (strcmp(c->members[i].address, self_addr) == 0)
			continue;
		e = ms_members_fetch(c->members[i].address, tls, FETCH_TIMEOUT_MS, cluster_id, table,
				     err, errlen);
		*self = e ? NULL : ms_members_by_address(table, self_addr);
		if (!e && !*self) {
			snprintf(err, errlen, "the cluster has no member with peer URL %s://%s (add "
				 "it first: etcdctl member add %s --peer-urls=%s://%s)",
				 c->peer_https ? "https" : "http", self_addr, a->name,
				 c->peer_https ? "https" : "http", self_addr);
			e = -ENOENT;
		}
	}
	ms_tls_ctx_free(tls);
	return e;
}

int ms_join_members(const struct ms_args *a, struct ms_cluster *c, struct ms_members *table,
		    struct ms_member_file *f, bool *write, char *err, size_t errlen)
{
	const struct ms_raft_peer *self = NULL, *found;
	uint64_t cluster_id = 0;
	int e = ms_member_file_read(a->data_dir, f, table);

	*write = false;
	if (!e) {
		c->self_id = f->self_id;
		c->cluster_id = f->cluster_id;
		return 0;
	}
	if (e != -ENOENT) {
		snprintf(err, errlen, "%s/%s: %s", a->data_dir, MS_MEMBERS_FILE,
			 e == -EUCLEAN ? "corrupt" : strerror(-e));
		return e;
	}
	*write = true;
	if (!a->join || has_owner(a->data_dir)) {
		ms_members_init(table, c->members, c->n);
		*f = (struct ms_member_file){ .self_id = c->self_id, .cluster_id = c->cluster_id };
		return 0;
	}
	for (size_t i = 0; i < c->n; i++)
		if (c->members[i].id == c->self_id)
			self = &c->members[i];
	/* as etcd: this member is the one the cluster knows by this peer URL */
	e = fetch(a, c, self->address, table, &found, &cluster_id, err, errlen);
	if (e)
		return e;
	c->self_id = found->id;
	c->cluster_id = cluster_id;
	*f = (struct ms_member_file){ .self_id = found->id, .cluster_id = cluster_id,
				      .joined = true };
	return 0;
}
