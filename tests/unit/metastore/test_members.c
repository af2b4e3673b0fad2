/* Unit tests for the membership table (metastore/raft/members.c, member_fetch.c's answer
 * codec, member_file.c): changes applied in sequence, replays, encodings, peer URLs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "raft/member_fetch.h"
#include "raft/member_file.h"
#include "raft/members.h"

static const struct ms_raft_peer seed[] = {
	{ .id = 0x11, .name = "n1", .address = "127.0.0.1:2380" },
	{ .id = 0x22, .name = "n2", .address = "127.0.0.1:2480" },
	{ .id = 0x33, .name = "n3", .address = "127.0.0.1:2580" },
};

/* One step: a change, what apply returns, and the table after it (ids in order, learner
 * flags, removed count). */
struct step {
	const char *what;
	struct ms_member_change c;
	int rc;
	size_t n;
	uint64_t ids[5];
	bool learner[5];
	size_t n_removed;
};

static const struct step steps[] = {
	{ "add a voter", { .op = MS_MEMBER_ADD, .id = 0x44, .address = "127.0.0.1:2680" }, 0,
	  4, { 0x11, 0x22, 0x33, 0x44 }, { 0 }, 0 },
	{ "the same add replayed", { .op = MS_MEMBER_ADD, .id = 0x44, .address = "127.0.0.1:2680" },
	  1, 4, { 0x11, 0x22, 0x33, 0x44 }, { 0 }, 0 },
	{ "a used peer address", { .op = MS_MEMBER_ADD, .id = 0x55, .address = "127.0.0.1:2480" },
	  -EEXIST, 4, { 0x11, 0x22, 0x33, 0x44 }, { 0 }, 0 },
	{ "a member's id at another address",
	  { .op = MS_MEMBER_ADD, .id = 0x22, .address = "127.0.0.1:9999" }, -EEXIST, 4,
	  { 0x11, 0x22, 0x33, 0x44 }, { 0 }, 0 },
	{ "add a learner", { .op = MS_MEMBER_ADD, .id = 0x55, .address = "127.0.0.1:2780",
			     .learner = true }, 0,
	  5, { 0x11, 0x22, 0x33, 0x44, 0x55 }, { 0, 0, 0, 0, 1 }, 0 },
	{ "promote a voter", { .op = MS_MEMBER_PROMOTE, .id = 0x22 }, -EINVAL,
	  5, { 0x11, 0x22, 0x33, 0x44, 0x55 }, { 0, 0, 0, 0, 1 }, 0 },
	{ "promote the learner", { .op = MS_MEMBER_PROMOTE, .id = 0x55 }, 0,
	  5, { 0x11, 0x22, 0x33, 0x44, 0x55 }, { 0 }, 0 },
	{ "remove a member", { .op = MS_MEMBER_REMOVE, .id = 0x22 }, 0,
	  4, { 0x11, 0x33, 0x44, 0x55 }, { 0 }, 1 },
	{ "remove it again", { .op = MS_MEMBER_REMOVE, .id = 0x22 }, -ENOENT,
	  4, { 0x11, 0x33, 0x44, 0x55 }, { 0 }, 1 },
	{ "a removed id is never added again",
	  { .op = MS_MEMBER_ADD, .id = 0x22, .address = "127.0.0.1:2480" }, -ENOENT,
	  4, { 0x11, 0x33, 0x44, 0x55 }, { 0 }, 1 },
	{ "its address is free again", { .op = MS_MEMBER_ADD, .id = 0x66, .address = "127.0.0.1:2480" },
	  0, 5, { 0x11, 0x33, 0x44, 0x55, 0x66 }, { 0 }, 1 },
	{ "update to a used address", { .op = MS_MEMBER_UPDATE, .id = 0x33, .address = "127.0.0.1:2380" },
	  -EEXIST, 5, { 0x11, 0x33, 0x44, 0x55, 0x66 }, { 0 }, 1 },
	{ "update an unknown member", { .op = MS_MEMBER_UPDATE, .id = 0x77, .address = "127.0.0.1:1" },
	  -ENOENT, 5, { 0x11, 0x33, 0x44, 0x55, 0x66 }, { 0 }, 1 },
	{ "update to its own address", { .op = MS_MEMBER_UPDATE, .id = 0x33, .address = "127.0.0.1:2580" },
	  0, 5, { 0x11, 0x33, 0x44, 0x55, 0x66 }, { 0 }, 1 },
	{ "update", { .op = MS_MEMBER_UPDATE, .id = 0x33, .address = "127.0.0.1:3580" },
	  0, 5, { 0x11, 0x33, 0x44, 0x55, 0x66 }, { 0 }, 1 },
	{ "publish", { .op = MS_MEMBER_PUBLISH, .id = 0x44, .name = "n4", .client = "127.0.0.1:2679" },
	  0, 5, { 0x11, 0x33, 0x44, 0x55, 0x66 }, { 0 }, 1 },
	{ "a full table", { .op = MS_MEMBER_ADD, .id = 0x99, .address = "127.0.0.1:4000" },
	  -ENOSPC, 5, { 0x11, 0x33, 0x44, 0x55, 0x66 }, { 0 }, 1 },
	{ "an unknown op", { .op = 99, .id = 0x11 }, -EINVAL,
	  5, { 0x11, 0x33, 0x44, 0x55, 0x66 }, { 0 }, 1 },
};

static void check_table(const struct ms_members *m, const struct step *s)
{
	assert_int_equal(m->n, s->n);
	for (size_t i = 0; i < s->n; i++) {
		assert_int_equal(m->v[i].id, s->ids[i]);
		assert_int_equal(m->v[i].learner, s->learner[i]);
	}
	assert_int_equal(m->n_removed, s->n_removed);
}

static void test_apply_sequence(void **state)
{
	struct ms_members *m = calloc(1, sizeof(*m));

	(void)state;
	ms_members_init(m, seed, 3);
	assert_int_equal(m->n, 3);
	assert_int_equal(ms_members_started(m), 3);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		/* the "full table" step runs with room for five members only */
		struct ms_members *t = m;

		if (steps[i].rc == -ENOSPC) {
			for (size_t k = m->n; k < MS_MEMBERS_MAX; k++) {
				struct ms_member_change f = { .op = MS_MEMBER_ADD, .id = 0x1000 + k };

				snprintf(f.address, sizeof(f.address), "127.0.0.2:%zu", k);
				assert_int_equal(ms_members_apply(m, &f), 0);
			}
			assert_int_equal(ms_members_apply(m, &steps[i].c), -ENOSPC);
			m->n = steps[i].n;
			check_table(m, &steps[i]);
			continue;
		}
		assert_int_equal(ms_members_apply(t, &steps[i].c), steps[i].rc);
		check_table(t, &steps[i]);
	}
	assert_string_equal(ms_members_find(m, 0x33)->address, "127.0.0.1:3580");
	assert_string_equal(ms_members_find(m, 0x44)->name, "n4");
	assert_string_equal(ms_members_find(m, 0x44)->client, "127.0.0.1:2679");
	assert_ptr_equal(ms_members_by_address(m, "127.0.0.1:2480"), ms_members_find(m, 0x66));
	assert_null(ms_members_find(m, 0x22));
	assert_true(ms_members_was_removed(m, 0x22));
	assert_false(ms_members_was_removed(m, 0x33));
	/* n1 and n3 from the seed and the published n4 */
	assert_int_equal(ms_members_started(m), 3);
	assert_int_equal(ms_members_voters(m), 5);
	free(m);
}

static void test_table_roundtrip(void **state)
{
	struct ms_members *m = calloc(1, sizeof(*m)), *back = calloc(1, sizeof(*back));
	struct ms_member_change c = { .op = MS_MEMBER_ADD, .id = 0x44, .address = "127.0.0.1:2680",
				      .learner = true };
	struct ms_buf b = { 0 };
	struct ms_reader r;

	(void)state;
	ms_members_init(m, seed, 3);
	assert_int_equal(ms_members_apply(m, &c), 0);
	c = (struct ms_member_change){ .op = MS_MEMBER_REMOVE, .id = 0x22 };
	assert_int_equal(ms_members_apply(m, &c), 0);
	assert_int_equal(ms_members_encode(m, &b), 0);
	r = (struct ms_reader){ .p = b.data, .left = b.len };
	assert_int_equal(ms_members_decode(back, &r), 0);
	assert_int_equal(r.left, 0);
	assert_memory_equal(back, m, sizeof(*m));
	/* every truncation is refused, and leaves the table as it was */
	for (size_t len = 0; len < b.len; len++) {
		r = (struct ms_reader){ .p = b.data, .left = len };
		assert_int_equal(ms_members_decode(back, &r), -EINVAL);
		assert_memory_equal(back, m, sizeof(*m));
	}
	/* another version */
	b.data[0] = 2;
	r = (struct ms_reader){ .p = b.data, .left = b.len };
	assert_int_equal(ms_members_decode(back, &r), -EINVAL);
	ms_buf_free(&b);
	free(m);
	free(back);
}

static void test_change_codec(void **state)
{
	struct ms_member_change c = { .op = MS_MEMBER_PUBLISH, .id = 0x1234, .learner = true,
				      .address = "127.0.0.1:1", .name = "n9",
				      .client = "https://127.0.0.1:2" }, back;
	struct ms_buf b = { 0 };

	(void)state;
	assert_int_equal(ms_member_change_encode(&c, &b), 0);
	/* op, id, learner, then three strings: 3 * 8 + (8 + 11) + (8 + 2) + (8 + 19) */
	assert_int_equal(b.len, 24 + 19 + 10 + 27);
	assert_int_equal(ms_member_change_decode(b.data, b.len, &back), 0);
	assert_int_equal(back.op, c.op);
	assert_int_equal(back.id, c.id);
	assert_true(back.learner);
	assert_string_equal(back.address, c.address);
	assert_string_equal(back.name, c.name);
	assert_string_equal(back.client, c.client);
	assert_int_equal(ms_member_change_decode(b.data, b.len - 1, &back), -EINVAL);
	ms_buf_free(&b);
	/* id 0 is no member */
	c.id = 0;
	assert_int_equal(ms_member_change_encode(&c, &b), 0);
	assert_int_equal(ms_member_change_decode(b.data, b.len, &back), -EINVAL);
	ms_buf_free(&b);
}

static void test_parse_url(void **state)
{
	static const struct {
		const char *url;
		int rc;
		const char *addr;
		bool https;
	} cases[] = {
		{ "http://127.0.0.1:2380", 0, "127.0.0.1:2380", false },
		{ "https://10.0.0.2:1/", 0, "10.0.0.2:1", true },
		{ "http://127.0.0.1", -EINVAL, NULL, false },
		{ "http://localhost:2380", -EINVAL, NULL, false },
		{ "unix://127.0.0.1:2380", -EINVAL, NULL, false },
		{ "http://127.0.0.1:65536", -EINVAL, NULL, false },
		{ "http://127.0.0.1:23x", -EINVAL, NULL, false },
		{ "http://:2380", -EINVAL, NULL, false },
	};
	char out[64];
	bool https;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = ms_members_parse_url(cases[i].url, strlen(cases[i].url), out, sizeof(out),
					      &https);

		assert_int_equal(rc, cases[i].rc);
		if (!rc) {
			assert_string_equal(out, cases[i].addr);
			assert_int_equal(https, cases[i].https);
		}
	}
}

static void test_info_and_file(void **state)
{
	struct ms_members *m = calloc(1, sizeof(*m)), *back = calloc(1, sizeof(*back));
	struct ms_member_file f = { .self_id = 0x33, .cluster_id = 0xabc, .joined = true }, g;
	char dir[] = "/tmp/ms-members-XXXXXX";
	struct ms_buf b = { 0 };
	uint64_t cid = 0;

	(void)state;
	ms_members_init(m, seed, 3);
	assert_int_equal(ms_members_info_encode(0xabc, m, &b), 0);
	assert_int_equal(ms_members_info_decode(b.data, b.len, &cid, back), 0);
	assert_int_equal(cid, 0xabc);
	assert_memory_equal(back, m, sizeof(*m));
	/* a partial answer asks for more; a wrong magic is refused */
	assert_int_equal(ms_members_info_decode(b.data, b.len - 1, &cid, back), -EAGAIN);
	assert_int_equal(ms_members_info_decode(b.data, 15, &cid, back), -EAGAIN);
	b.data[0] ^= 1;
	assert_int_equal(ms_members_info_decode(b.data, b.len, &cid, back), -EINVAL);
	ms_buf_free(&b);

	assert_non_null(mkdtemp(dir));
	assert_int_equal(ms_member_file_read(dir, &g, back), -ENOENT);
	assert_int_equal(ms_member_file_write(dir, &f, m), 0);
	memset(back, 0, sizeof(*back));
	assert_int_equal(ms_member_file_read(dir, &g, back), 0);
	assert_int_equal(g.self_id, 0x33);
	assert_int_equal(g.cluster_id, 0xabc);
	assert_true(g.joined);
	assert_memory_equal(back, m, sizeof(*m));
	/* a damaged file: one byte less */
	{
		char path[64];
		FILE *fp;
		long size;

		snprintf(path, sizeof(path), "%s/%s", dir, MS_MEMBERS_FILE);
		fp = fopen(path, "r+");
		assert_non_null(fp);
		fseek(fp, 0, SEEK_END);
		size = ftell(fp);
		fclose(fp);
		assert_int_equal(truncate(path, size - 1), 0);
		assert_int_equal(ms_member_file_read(dir, &g, back), -EUCLEAN);
		unlink(path);
	}
	rmdir(dir);
	free(m);
	free(back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apply_sequence),
		cmocka_unit_test(test_table_roundtrip),
		cmocka_unit_test(test_change_codec),
		cmocka_unit_test(test_parse_url),
		cmocka_unit_test(test_info_and_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
