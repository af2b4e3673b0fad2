/* Privilege drop: after the probes are attached the agent keeps no capabilities. */
#ifndef AGENT_PRIVS_H
#define AGENT_PRIVS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Empties the capability bounding, ambient, inheritable, permitted and effective sets of
 * the calling thread (call it before any other thread starts: capabilities are per thread),
 * sets no_new_privs, and, if `user` is non-NULL, switches to that user's uid, gid and no
 * supplementary groups first. BPF maps and links already open stay usable through their
 * fds. Returns 0 or -errno with a one-line reason in err.
 */
int privs_drop(const char *user, char *err, size_t errlen);

/*
 * Keeps only the capabilities in `keep` (bit N = capability N) that are permitted now in
 * the effective and permitted sets and the bounding set of the calling thread, empties the inheritable and
 * ambient sets and sets no_new_privs; the uid stays. For a helper process that still needs
 * a few privileges. Returns 0 or -errno with a one-line reason in err.
 */
int privs_keep_only(uint64_t keep, char *err, size_t errlen);

/* Number of capabilities in the effective set of this thread (0 after privs_drop), or -errno. */
int privs_effective_count(void);

#endif /* AGENT_PRIVS_H */
