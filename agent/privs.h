/* Privilege drop: after the probes are attached the agent keeps no capabilities. */
#ifndef AGENT_PRIVS_H
#define AGENT_PRIVS_H

#include <stdbool.h>
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

/* What the agent needs to start: CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN to load and attach
 * its uprobes, CAP_SETPCAP to empty its bounding set, and with --user CAP_SETUID and
 * CAP_SETGID. Bit N is capability N. */
uint64_t privs_needed(bool switch_user);

/* Reads the effective set of this thread into *mask. Returns 0 or -errno. */
int privs_effective(uint64_t *mask);

/* Writes the names of the capabilities in `mask`, lowest first, as "CAP_BPF, CAP_PERFMON"
 * (a number for one without a name here) into buf. Returns buf. */
const char *privs_cap_names(uint64_t mask, char *buf, size_t len);

/* Number of capabilities in the effective set of this thread (0 after privs_drop), or -errno. */
int privs_effective_count(void);

#endif /* AGENT_PRIVS_H */
