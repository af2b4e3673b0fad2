/* Kernel requirements the agent checks at start: the oldest release its BPF programs load on. */
#include "kernel.h"

#include <errno.h>
#include <stdlib.h>

int kernel_release_at_least(const char *release, unsigned major, unsigned minor)
{
	unsigned long ma, mi;
	char *end;

	if (!release || *release < '0' || *release > '9')
		return -EINVAL;
	ma = strtoul(release, &end, 10);
	if (*end != '.' || end[1] < '0' || end[1] > '9')
		return -EINVAL;
	mi = strtoul(end + 1, &end, 10);
	return ma > major || (ma == major && mi >= minor);
}
