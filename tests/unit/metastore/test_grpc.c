/* Unit tests for grpc.c: unframing, frame headers, grpc-message encoding, buffers, paths. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rpc/grpc.h"

static void test_unframe_table(void **state)
{
	static const struct {
		const char *name;
		const uint8_t body[16];
		size_t len;
		size_t max;
		enum grpc_unframe_result want;
		size_t want_len; /* message length (or declared length for TOO_LARGE) */
	} cases[] = {
		{ "empty body", { 0 }, 0, 100, GRPC_UNFRAME_EMPTY, 0 },
		{ "short prefix", { 0, 0, 0 }, 3, 100, GRPC_UNFRAME_TRUNCATED, 0 },
		{ "empty message", { 0, 0, 0, 0, 0 }, 5, 100, GRPC_UNFRAME_OK, 0 },
		{ "one message", { 0, 0, 0, 0, 3, 'a', 'b', 'c' }, 8, 100, GRPC_UNFRAME_OK, 3 },
		{ "payload cut", { 0, 0, 0, 0, 4, 'a', 'b' }, 7, 100, GRPC_UNFRAME_TRUNCATED, 4 },
		{ "two messages", { 0, 0, 0, 0, 1, 'a', 0, 0, 0, 0, 1, 'b' }, 12, 100,
		  GRPC_UNFRAME_TRAILING, 1 },
		{ "compressed", { 1, 0, 0, 0, 1, 'a' }, 6, 100, GRPC_UNFRAME_COMPRESSED, 1 },
		{ "over limit", { 0, 0, 0, 0, 101 }, 5, 100, GRPC_UNFRAME_TOO_LARGE, 101 },
		{ "at limit", { 0, 0, 0, 0, 3, 'x', 'y', 'z' }, 8, 3, GRPC_UNFRAME_OK, 3 },
		{ "2 GiB declared", { 0, 0x80, 0, 0, 0 }, 5, 100, GRPC_UNFRAME_TOO_LARGE, 1u << 31 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const uint8_t *msg = NULL;
		size_t len = 12345;
		enum grpc_unframe_result r =
			grpc_unframe(cases[i].body, cases[i].len, cases[i].max, &msg, &len);

		if (r != cases[i].want)
			fail_msg("%s: result %d, want %d", cases[i].name, r, cases[i].want);
		if (r == GRPC_UNFRAME_OK) {
			assert_ptr_equal(msg, cases[i].body + GRPC_FRAME_HDR);
			assert_int_equal(len, cases[i].want_len);
		} else if (r == GRPC_UNFRAME_TOO_LARGE) {
			assert_int_equal(len, cases[i].want_len);
		}
	}
}

static void test_frame_header_roundtrip(void **state)
{
	static const uint32_t lens[] = { 0, 1, 255, 256, 65536, 0x01020304, UINT32_MAX };

	(void)state;
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint8_t hdr[GRPC_FRAME_HDR];
		const uint8_t *msg;
		size_t len;

		grpc_frame_header(hdr, lens[i]);
		assert_int_equal(hdr[0], 0);
		assert_int_equal((uint32_t)hdr[1] << 24 | hdr[2] << 16 | hdr[3] << 8 | hdr[4], lens[i]);
		/* A header alone is a complete frame only for the empty message. */
		assert_int_equal(grpc_unframe(hdr, sizeof(hdr), SIZE_MAX, &msg, &len),
				 lens[i] ? GRPC_UNFRAME_TRUNCATED : GRPC_UNFRAME_OK);
	}
}

static void test_percent_encode_table(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "", "" },
		{ "etcdserver: key is not provided", "etcdserver: key is not provided" },
		{ "100%", "100%25" },
		{ "line\nbreak\ttab", "line%0Abreak%09tab" },
		{ "caf\xc3\xa9", "caf%C3%A9" },
		{ "~ and \x7f", "~ and %7F" },
	};

	char *back;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = grpc_percent_encode(cases[i].in);

		assert_non_null(got);
		assert_string_equal(got, cases[i].out);
		/* and back, as a forwarder reads a relayed status */
		back = grpc_percent_decode((const uint8_t *)got, strlen(got));
		assert_string_equal(back, cases[i].in);
		free(back);
		free(got);
	}
	/* lower-case escapes decode; malformed ones stay as they came */
	back = grpc_percent_decode((const uint8_t *)"a%2fb %zz %4", 12);
	assert_string_equal(back, "a/b %zz %4");
	free(back);
}

static void test_buf_append(void **state)
{
	struct ms_buf b = { 0 };
	char expect[3000];

	(void)state;
	for (int i = 0; i < 3000; i++) {
		char c = (char)('a' + i % 26);

		expect[i] = c;
		assert_int_equal(ms_buf_append(&b, &c, 1), 0);
	}
	assert_int_equal(b.len, 3000);
	assert_memory_equal(b.data, expect, 3000);
	/* NULL data reserves without copying. */
	assert_int_equal(ms_buf_append(&b, NULL, 10), 0);
	assert_int_equal(b.len, 3010);
	assert_true(b.cap >= b.len);
	ms_buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
}

static void test_path_split_table(void **state)
{
	static const struct {
		const char *path;
		int rv;
		const char *svc, *meth;
	} cases[] = {
		{ "/etcdserverpb.KV/Range", 0, "etcdserverpb.KV", "Range" },
		{ "etcdserverpb.KV/Range", 0, "etcdserverpb.KV", "Range" },
		{ "/a/b/c", 0, "a/b", "c" }, /* cut at the last '/' */
		{ "/svc/", 0, "svc", "" },
		{ "//m", 0, "", "m" },
		{ "/nonsense", -EINVAL, NULL, NULL },
		{ "/", -EINVAL, NULL, NULL },
		{ "", -EINVAL, NULL, NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *svc = NULL, *meth = NULL;
		size_t sl = 0, ml = 0;
		int rv = grpc_path_split(cases[i].path, strlen(cases[i].path), &svc, &sl, &meth, &ml);

		if (rv != cases[i].rv)
			fail_msg("%s: rv %d, want %d", cases[i].path, rv, cases[i].rv);
		if (rv)
			continue;
		if (sl != strlen(cases[i].svc) || memcmp(svc, cases[i].svc, sl) ||
		    ml != strlen(cases[i].meth) || memcmp(meth, cases[i].meth, ml))
			fail_msg("%s: got '%.*s' '%.*s'", cases[i].path, (int)sl, svc, (int)ml, meth);
	}
}

static void test_unimplemented_message_table(void **state)
{
	static const struct {
		const char *path;
		bool known;
		size_t outlen;
		const char *want;
	} cases[] = {
		{ "/etcdserverpb.Nope/Get", false, 128, "unknown service etcdserverpb.Nope" },
		{ "/etcdserverpb.KV/Nope", true, 128, "unknown method Nope for service etcdserverpb.KV" },
		{ "/nonsense", false, 128, "malformed method name: \"/nonsense\"" },
		{ "/a\"b\\c\x01", false, 128, "malformed method name: \"/a\\\"b\\\\c\\x01\"" },
		{ "/etcdserverpb.Nope/Get", false, 12, "unknown ser" }, /* cut to fit */
		{ "/nonsense", false, 30, "malformed method name: \"/nons" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[128];

		memset(out, 'X', sizeof(out));
		grpc_unimplemented_message(cases[i].path, strlen(cases[i].path), cases[i].known, out,
					   cases[i].outlen);
		assert_true(strlen(out) < cases[i].outlen);
		assert_string_equal(out, cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unframe_table),
		cmocka_unit_test(test_frame_header_roundtrip),
		cmocka_unit_test(test_percent_encode_table),
		cmocka_unit_test(test_buf_append),
		cmocka_unit_test(test_path_split_table),
		cmocka_unit_test(test_unimplemented_message_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
