/* Binary watcher: re-attaches the probes when the --binary path names a new file. */
#ifndef AGENT_BINWATCH_H
#define AGENT_BINWATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "loader.h"

struct binwatch;

/* What the watcher has done so far (binwatch_poll). */
struct binwatch_stats {
	uint64_t reattached; /* new files at the path that were attached */
	uint64_t failures;   /* new files at the path that could not be attached */
	bool failing;        /* the file now at the path could not be attached */
	bool alive;          /* the helper process runs */
	char last_error[256]; /* reason of the last failure, "" if none */
};

/* How often the helper looks at the path. */
#define BINWATCH_INTERVAL_MS 250

/*
 * Starts a helper process (forked: call it while single-threaded, before the privileges are
 * dropped and before any socket is open) that keeps the privileges the loader needs and
 * nothing else to do: every BINWATCH_INTERVAL_MS it stats `path`; when the path names
 * another file than (dev, ino) (replaced on disk, e.g. by a rename), and that file has kept
 * its size and time for one interval, it attaches every selected probe to it with
 * loader_attach_path() (maps shared, so counters carry on) and reports the result through a
 * pipe. A file that cannot be attached is reported once, and tried again when it changes.
 * The helper dies with its parent. Returns 0 with *out owned by the caller, or -errno.
 */
int binwatch_start(struct loader *l, const char *path, dev_t dev, ino_t ino,
		   struct binwatch **out);

/* Takes in what the helper reported since the last call and copies the totals to *st.
 * Thread-safe. */
void binwatch_poll(struct binwatch *w, struct binwatch_stats *st);

/* Ends the helper (closes its stop pipe, which it sees within BINWATCH_INTERVAL_MS, even
 * after --user took the right to signal it), waits for it and frees; NULL is allowed. */
void binwatch_stop(struct binwatch *w);

#endif /* AGENT_BINWATCH_H */
