/* Unit test: a probe on a Go stack-check jbe counts each call once when it skips the morestack hit. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "go_sites.h"
#include "gopclntab.h"
#include "morestack.skel.h"

#ifndef GO_TEST_DIR
#error "GO_TEST_DIR: the folder of the Go test programs (tests/unit/agent/go/go.mk)"
#endif

#define PROG GO_TEST_DIR "/stackgrow"

/* 64 goroutines each recursing 2000 deep with ~350-byte frames: every goroutine's stack
 * grows from 8 KiB several times, each growth restarting one call of grow. */
static void test_morestack_skipped(void **state)
{
	struct morestack_bpf *skel;
	struct bpf_link *link;
	struct gopclntab *t;
	struct go_site site;
	uint64_t all = 0, kept = 0;
	long calls = 0;
	char err[256];
	uint32_t k;
	FILE *p;
	int fd;

	(void)state;
	assert_int_equal(gopclntab_open(PROG, &t), 0);
	assert_int_equal(go_site_stack_check(t, "main.grow", &site, err, sizeof(err)), 0);
	gopclntab_free(t);
	skel = morestack_bpf__open_and_load();
	if (!skel)
		fail_msg("cannot load the test BPF object (needs root and BTF): %s", strerror(errno));
	link = bpf_program__attach_uprobe(skel->progs.morestack_probe, false, -1, PROG,
					  (size_t)site.offset);
	assert_non_null(link);
	p = popen(PROG " 64 2000", "r");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%ld", &calls), 1);
	assert_int_equal(pclose(p), 0);
	fd = bpf_map__fd(skel->maps.morestack_hits);
	k = 0;
	assert_int_equal(bpf_map_lookup_elem(fd, &k, &all), 0);
	k = 1;
	assert_int_equal(bpf_map_lookup_elem(fd, &k, &kept), 0);
	print_message("calls %ld, hits %llu, kept %llu\n", calls, (unsigned long long)all,
		      (unsigned long long)kept);
	assert_int_equal(calls, 64 * 2001);
	assert_int_equal(kept, (uint64_t)calls);
	assert_true(all > kept); /* the stacks did grow: the double hits happened */
	bpf_link__destroy(link);
	morestack_bpf__destroy(skel);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_morestack_skipped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
