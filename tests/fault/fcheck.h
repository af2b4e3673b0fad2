/* Fault suite: history checks on acknowledged revisions, stored keys and watch streams. */
#ifndef FCHECK_H
#define FCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fault.h"

/* Receives one anomaly line (no newline). */
typedef void (*fchk_report_fn)(void *user, const char *line);

/* One key as a member stores it, or one event of a watch stream. */
struct fchk_kv {
	char key[48];
	int64_t rev;	  /* mod_revision (kv), or the event's revision */
	int64_t value_id; /* the decimal value, 0 for a delete */
	bool del;	  /* event: a DELETE */
};

/* Per client, in completion order: a write's revision must be above every revision that
 * client saw before, a read's not below. Returns the number of anomalies reported. */
int fchk_revs(const struct fault_rev *revs, size_t n, fchk_report_fn report, void *user);

/* Every acknowledged put (rev > 0) must be in kvs (sorted by key: fchk_sort_kvs) with
 * mod_revision == its revision and its value. member names the member in the lines.
 * Returns the number of anomalies reported. */
int fchk_acked(const struct fault_put *puts, size_t n, const struct fchk_kv *kvs, size_t nkv,
	       const char *member, fchk_report_fn report, void *user);

/* Sorts kvs by key (for fchk_acked). */
void fchk_sort_kvs(struct fchk_kv *kvs, size_t n);

/* A watch stream (got) must be exactly the committed history ref: same events in the same
 * order, no gap, no duplicate, none missing at the end. Reports the first difference only
 * (later ones follow from it). Returns the number of anomalies reported (0 or 1). */
int fchk_events(const struct fchk_kv *got, size_t n, const struct fchk_kv *ref, size_t nref,
		const char *who, fchk_report_fn report, void *user);

/* Every acknowledged put must be the PUT event at its revision in the history ref (in
 * revision order). Returns the number of anomalies reported. */
int fchk_acked_in_history(const struct fault_put *puts, size_t n, const struct fchk_kv *ref,
			  size_t nref, fchk_report_fn report, void *user);

#endif /* FCHECK_H */
