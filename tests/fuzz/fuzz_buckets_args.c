/* libFuzzer harness for bucket lists and the agent command line (argv split at NUL bytes). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "buckets.h"

#define MAX_ARGS 32

#define CHECK(c)                                                                          \
	do {                                                                              \
		if (!(c)) {                                                               \
			fprintf(stderr, "fuzz_buckets_args: check failed: %s (line %d)\n", #c, \
				__LINE__);                                                \
			abort();                                                          \
		}                                                                         \
	} while (0)

/* A failure explains itself in one non-empty line: it goes to stderr as is. */
static void check_message(const char *err, size_t cap)
{
	size_t len = strnlen(err, cap);

	CHECK(len > 0 && len < cap);
	CHECK(!memchr(err, '\n', len) && !memchr(err, '\r', len));
}

static void check_bounds(const uint64_t *b, uint32_t n, uint32_t max)
{
	CHECK(n > 0 && n <= max);
	for (uint32_t i = 0; i < n; i++) {
		CHECK(b[i] > 0 && b[i] <= (uint64_t)(BUCKETS_MAX_SECONDS * 1e9));
		CHECK(!i || b[i] > b[i - 1]);
	}
}

static void fuzz_buckets(const char *list, uint32_t max)
{
	uint64_t out[MS_MAX_BUCKETS];
	uint32_t n = 0;
	char err[160];
	int rc;

	memset(err, 0, sizeof(err));
	rc = buckets_parse(list, out, max, &n, err, sizeof(err));
	CHECK(rc == 0 || rc == -EINVAL);
	if (rc == 0)
		check_bounds(out, n, max);
	else
		check_message(err, sizeof(err));
}

static void fuzz_args(char *buf, size_t size)
{
	char *argv[MAX_ARGS + 1] = { "metastore-agent" };
	struct agent_args a;
	char err[256];
	int argc = 1, rc;

	for (size_t i = 0; i < size && argc < MAX_ARGS; i += strlen(buf + i) + 1) {
		/* --config would open any path the input names (a FIFO, /dev/zero): not the
		 * parser under test, so it becomes an unknown option. */
		if (!strncmp(buf + i, "--config", 8))
			memcpy(buf + i, "--konfig", 8);
		argv[argc++] = buf + i;
	}
	argv[argc] = NULL;
	memset(err, 0, sizeof(err));
	rc = agent_args_parse(argc, argv, &a, err, sizeof(err));
	CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
	if (rc) {
		check_message(err, sizeof(err));
		agent_args_release(&a);
		return;
	}
	check_bounds(a.bounds_ns, a.nr_bounds, MS_MAX_BUCKETS);
	CHECK(a.listen && *a.listen);
	CHECK(memchr(a.probes_text, '\0', sizeof(a.probes_text)));
	if (!a.help && !a.version && !a.list_probes)
		CHECK(!a.binary != !a.pid);
	if (a.pid)
		CHECK(a.pid > 0 && a.pid <= 4194304);
	if (a.binary)
		CHECK(*a.binary);
	agent_args_release(&a);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const vars[] = { "CONFIG", "BINARY", "PID", "PROBES", "LISTEN",
					     "BUCKETS", "BPF_STATS", "USER", "VERBOSE" };
	char name[64];

	(void)argc, (void)argv;
	/* The parse must see only the input, not the environment the fuzzer runs in. */
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		snprintf(name, sizeof(name), "METASTORE_AGENT_%s", vars[i]);
		unsetenv(name);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	/* The first byte picks the bucket limit, so "more than N bounds" is reachable. */
	fuzz_buckets(buf, size ? (uint8_t)buf[0] % MS_MAX_BUCKETS + 1 : MS_MAX_BUCKETS);
	fuzz_buckets(buf, MS_MAX_BUCKETS);
	fuzz_args(buf, size);
	free(buf);
	return 0;
}
