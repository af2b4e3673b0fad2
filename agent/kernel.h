/* Kernel requirements the agent checks at start: the oldest release its BPF programs load on. */
#ifndef AGENT_KERNEL_H
#define AGENT_KERNEL_H

/* bpf_loop (the batch walks) came with Linux 5.17. */
#define KERNEL_MIN_MAJOR 5
#define KERNEL_MIN_MINOR 17

/* Whether a uname release ("6.18.44-fc-v669", "5.17", "5.4.0-150-generic") is at least
 * major.minor. Returns 1 or 0, or -EINVAL when it does not start with "N.N". */
int kernel_release_at_least(const char *release, unsigned major, unsigned minor);

#endif /* AGENT_KERNEL_H */
