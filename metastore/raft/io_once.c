/* The close callback of a raft_io, passed on once (io_once.h says why). */
#include <stddef.h>

#include "raft/io_once.h"

static struct ms_io_once *of_io(struct raft_io *io)
{
	return (struct ms_io_once *)((char *)io - offsetof(struct ms_io_once, io));
}

static void once_close_cb(struct raft_io *io)
{
	struct ms_io_once *w = of_io(io);
	raft_io_close_cb cb = w->cb;

	if (!cb) {
		w->extra++;
		return;
	}
	w->cb = NULL;
	cb(io);
}

static void once_close(struct raft_io *io, raft_io_close_cb cb)
{
	struct ms_io_once *w = of_io(io);

	w->closing = true;
	w->cb = cb;
	w->close(io, once_close_cb);
}

void ms_io_once_wrap(struct ms_io_once *w)
{
	w->close = w->io.close;
	w->io.close = once_close;
	w->cb = NULL;
	w->closing = false;
	w->extra = 0;
}

bool ms_io_once_closed(const struct ms_io_once *w)
{
	return w->closing && !w->cb;
}
