/* Fault suite: the end of a run: heal, settle, and every check on what the clients saw. */
#ifndef FVERIFY_H
#define FVERIFY_H

#include "fault.h"
#include "flease.h"
#include "fnemesis.h"
#include "fwatch.h"

/* With the writers stopped: heals the cluster, waits for it to settle, checks kept and
 * abandoned leases, every acknowledged put on every member, the history against the
 * acknowledgements and the watchers, per-client revisions and the registers'
 * linearizability; then ends the streams (watchers, keep-alives). Anomalies are reported
 * through fault_anomaly. */
void fverify_all(struct fault_run *r, struct fnem *n, struct flease *l, struct fwatch *w,
		 int nw);

#endif /* FVERIFY_H */
