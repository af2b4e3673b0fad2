/* Privilege drop: after the probes are attached the agent keeps no capabilities. */
#ifndef AGENT_PRIVS_H
#define AGENT_PRIVS_H

#include <stddef.h>

/*
 * Empties the capability bounding, ambient, inheritable, permitted and effective sets of
 * the calling thread (call it before any other thread starts: capabilities are per thread),
 * sets no_new_privs, and, if `user` is non-NULL, switches to that user's uid, gid and no
 * supplementary groups first. BPF maps and links already open stay usable through their
 * fds. Returns 0 or -errno with a one-line reason in err.
 */
int privs_drop(const char *user, char *err, size_t errlen);

/* Number of capabilities in the effective set of this thread (0 after privs_drop), or -errno. */
int privs_effective_count(void);

#endif /* AGENT_PRIVS_H */
