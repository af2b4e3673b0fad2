/* A libraft raft_io whose close callback runs once, though libraft 0.15 may fire it twice. */
#ifndef MS_IO_ONCE_H
#define MS_IO_ONCE_H

#include <stdbool.h>
#include <raft.h>

/*
 * libraft 0.15 (Debian bookworm) checks whether a closing raft_uv is done each time one of
 * its parts finishes, and a segment writer's close is not counted among the parts: when it
 * ends after everything else, the check passes a second time and the close callback runs
 * again. raft_close's callback then frees the raft instance's address, log and
 * configuration twice (glibc aborts "double free"). The late check still reads the raft_uv
 * state and its transport, so both must outlive the loop's last callback.
 *
 * The wrapper sits between raft_close and the io: embed it, and call raft_init with &io.
 */
struct ms_io_once {
	struct raft_io io; /* raft_uv_init's, then ms_io_once_wrap; what raft_init is given */
	void (*close)(struct raft_io *io, raft_io_close_cb cb); /* the io's own */
	raft_io_close_cb cb; /* raft's callback, until it has run */
	bool closing;
	unsigned extra;      /* close callbacks after the first, dropped */
};

/* Makes w->io's close pass the first close callback on and drop later ones. Call once,
 * after the io is initialized (raft_uv_init) and before raft_init. */
void ms_io_once_wrap(struct ms_io_once *w);

/* Whether the close callback has run (it may still be called again, and dropped). */
bool ms_io_once_closed(const struct ms_io_once *w);

#endif
