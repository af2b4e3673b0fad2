/* Privilege drop: after the probes are attached the agent keeps no capabilities. */
#include "privs.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int cap_last(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "r");
	int last = CAP_LAST_CAP;

	if (f) {
		if (fscanf(f, "%d", &last) != 1)
			last = CAP_LAST_CAP;
		fclose(f);
	}
	return last;
}

/* Drops from the bounding set every capability not in `keep` and empties the ambient set.
 * The bounding set needs CAP_SETPCAP, so this goes while the caller still has it. */
static int bound_caps(uint64_t keep, char *err, size_t len)
{
	for (int cap = 0; cap <= cap_last(); cap++) {
		if (cap < 64 && ((keep >> cap) & 1))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) && errno != EINVAL) {
			int e = -errno;

			snprintf(err, len, "cannot drop capability %d from the bounding set: %s", cap,
				 strerror(-e));
			return e;
		}
	}
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	return 0;
}

/* Sets the effective and permitted sets to `keep` (inheritable empty), then no_new_privs;
 * `verb` words the capset failure ("clear", "limit"). */
static int set_caps(uint64_t keep, const char *verb, char *err, size_t len)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	int e;

	memset(data, 0, sizeof(data));
	data[0].effective = data[0].permitted = (uint32_t)keep;
	data[1].effective = data[1].permitted = (uint32_t)(keep >> 32);
	if (syscall(SYS_capset, &hdr, data)) {
		e = -errno;
		snprintf(err, len, "cannot %s capabilities: %s", verb, strerror(-e));
		return e;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		e = -errno;
		snprintf(err, len, "cannot set no_new_privs: %s", strerror(-e));
		return e;
	}
	return 0;
}

int privs_drop(const char *user, char *err, size_t len)
{
	struct passwd *pw = NULL;
	int e;

	if (user) {
		pw = getpwnam(user);
		if (!pw) {
			snprintf(err, len, "--user: no such user '%s'", user);
			return -ENOENT;
		}
	}
	e = bound_caps(0, err, len);
	if (e)
		return e;
	if (pw && (setgroups(0, NULL) || setgid(pw->pw_gid) || setuid(pw->pw_uid))) {
		e = -errno;
		snprintf(err, len, "cannot switch to user %s: %s", user, strerror(-e));
		return e;
	}
	return set_caps(0, "clear", err, len);
}

int privs_keep_only(uint64_t keep, char *err, size_t len)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	int e;

	/* Only what is permitted now can stay (capset cannot add). */
	if (syscall(SYS_capget, &hdr, data)) {
		e = -errno;
		snprintf(err, len, "cannot read capabilities: %s", strerror(-e));
		return e;
	}
	keep &= (uint64_t)data[0].permitted | (uint64_t)data[1].permitted << 32;
	e = bound_caps(keep, err, len);
	return e ? e : set_caps(keep, "limit", err, len);
}

int privs_effective_count(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	return __builtin_popcount(data[0].effective) + __builtin_popcount(data[1].effective);
}

uint64_t privs_needed(bool switch_user)
{
	uint64_t m = (1ull << CAP_BPF) | (1ull << CAP_PERFMON) | (1ull << CAP_SYS_ADMIN) |
		     (1ull << CAP_SETPCAP);

	return switch_user ? m | (1ull << CAP_SETUID) | (1ull << CAP_SETGID) : m;
}

int privs_effective(uint64_t *mask)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	*mask = 0;
	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	*mask = (uint64_t)data[0].effective | (uint64_t)data[1].effective << 32;
	return 0;
}

const char *privs_cap_names(uint64_t mask, char *buf, size_t len)
{
	static const char *const names[] = {
		[CAP_CHOWN] = "CAP_CHOWN", [CAP_DAC_OVERRIDE] = "CAP_DAC_OVERRIDE",
		[CAP_DAC_READ_SEARCH] = "CAP_DAC_READ_SEARCH", [CAP_SETGID] = "CAP_SETGID",
		[CAP_SETUID] = "CAP_SETUID", [CAP_SETPCAP] = "CAP_SETPCAP",
		[CAP_SYS_PTRACE] = "CAP_SYS_PTRACE", [CAP_SYS_ADMIN] = "CAP_SYS_ADMIN",
		[CAP_SYS_RESOURCE] = "CAP_SYS_RESOURCE", [CAP_PERFMON] = "CAP_PERFMON",
		[CAP_BPF] = "CAP_BPF",
	};
	size_t o = 0;

	if (len)
		buf[0] = '\0';
	for (int cap = 0; cap < 64 && o < len; cap++) {
		const char *n = (size_t)cap < sizeof(names) / sizeof(names[0]) ? names[cap] : NULL;
		int w;

		if (!((mask >> cap) & 1))
			continue;
		w = n ? snprintf(buf + o, len - o, "%s%s", o ? ", " : "", n)
		      : snprintf(buf + o, len - o, "%scapability %d", o ? ", " : "", cap);
		o += w > 0 ? (size_t)w : 0;
	}
	return buf;
}
