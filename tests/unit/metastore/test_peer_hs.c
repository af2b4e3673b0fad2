/* Unit tests for the raft peer handshake (metastore/raft/peer_hs.c): libraft's bytes, the
 * decoder fed in any split, its refusals, and who counts as a member. */
#include <errno.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "raft/peer_hs.h"

/* libraft's own encoding of (id 0x0102030405060708, "127.0.0.1:2380"): 14 characters and
 * the NUL padded to 16. */
static const uint8_t golden[] = {
	1, 0, 0, 0, 0, 0, 0, 0,                  /* protocol */
	8, 7, 6, 5, 4, 3, 2, 1,                  /* server id */
	16, 0, 0, 0, 0, 0, 0, 0,                 /* address field length */
	'1', '2', '7', '.', '0', '.', '0', '.', '1', ':', '2', '3', '8', '0', 0, 0,
};

static void test_encode(void **state)
{
	uint8_t out[MS_PEER_HS_PREAMBLE + MS_PEER_HS_MAX_ADDR];
	char longaddr[300];

	(void)state;
	assert_int_equal(ms_peer_hs_encode(0x0102030405060708ull, "127.0.0.1:2380", NULL, out,
					   sizeof(out)), sizeof(golden));
	assert_memory_equal(out, golden, sizeof(golden));
	/* 15 characters + NUL = 16: no extra padding; 16 characters need 24 */
	assert_int_equal(ms_peer_hs_encode(1, "127.0.0.1:23800", NULL, out, sizeof(out)), 24 + 16);
	assert_int_equal(ms_peer_hs_encode(1, "127.0.0.12:23800", NULL, out, sizeof(out)), 24 + 24);
	assert_int_equal(ms_peer_hs_encode(1, "127.0.0.1:2380", NULL, out, 39), -ENOSPC);
	memset(longaddr, 'a', 255);
	longaddr[255] = '\0';
	assert_int_equal(ms_peer_hs_encode(1, longaddr, NULL, out, sizeof(out)), 24 + 256);
	longaddr[255] = 'a';
	longaddr[256] = '\0';
	assert_int_equal(ms_peer_hs_encode(1, longaddr, NULL, out, sizeof(out)), -ENOSPC);
}

/* The golden bytes plus 5 bytes of the first message, fed in chunks of every size. */
static void test_decode_splits(void **state)
{
	uint8_t in[sizeof(golden) + 5];

	(void)state;
	memcpy(in, golden, sizeof(golden));
	memset(in + sizeof(golden), 0xee, 5);
	for (size_t chunk = 1; chunk <= sizeof(in); chunk++) {
		struct ms_peer_hs h;
		char why[128] = "";
		size_t off = 0, used_total = 0;

		ms_peer_hs_init(&h);
		while (off < sizeof(in) && ms_peer_hs_need(&h)) {
			size_t n = sizeof(in) - off < chunk ? sizeof(in) - off : chunk;
			ssize_t used = ms_peer_hs_feed(&h, in + off, n, why, sizeof(why));

			assert_true(used >= 0);
			used_total += (size_t)used;
			off += n;
		}
		assert_int_equal(used_total, sizeof(golden)); /* not a byte of the message */
		assert_int_equal(ms_peer_hs_need(&h), 0);
		assert_int_equal(h.id, 0x0102030405060708ull);
		assert_string_equal(h.address, "127.0.0.1:2380");
		assert_string_equal(why, "");
	}
}

/* The reader that asks for exactly ms_peer_hs_need(): 24, then the address field. */
static void test_need(void **state)
{
	struct ms_peer_hs h;
	char why[64];

	(void)state;
	ms_peer_hs_init(&h);
	assert_int_equal(ms_peer_hs_need(&h), 24);
	assert_int_equal(ms_peer_hs_feed(&h, golden, 10, why, sizeof(why)), 10);
	assert_int_equal(ms_peer_hs_need(&h), 14);
	assert_int_equal(ms_peer_hs_feed(&h, golden + 10, 14, why, sizeof(why)), 14);
	assert_int_equal(ms_peer_hs_need(&h), 16);
	assert_null(h.address);
	assert_int_equal(ms_peer_hs_feed(&h, golden + 24, 16, why, sizeof(why)), 16);
	assert_int_equal(ms_peer_hs_need(&h), 0);
	assert_int_equal(ms_peer_hs_feed(&h, golden, 8, why, sizeof(why)), 0);
}

static void test_decode_refused(void **state)
{
	static const struct {
		uint64_t proto, alen;
		const char *addr; /* field content (zero-padded to alen), NULL: all 'x' */
		const char *why;
	} cases[] = {
		{ 2, 16, "127.0.0.1:2380", "handshake protocol 2 (want 1)" },
		{ 0, 16, "127.0.0.1:2380", "handshake protocol 0 (want 1)" },
		{ 1, 0, "", "handshake address length 0 (want 1..256)" },
		{ 1, 257, "", "handshake address length 257 (want 1..256)" },
		{ 1, 1ull << 40, "", "handshake address length 1099511627776 (want 1..256)" },
		{ 1, 16, NULL, "handshake address without its NUL" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t in[24 + 256] = { 0 };
		struct ms_peer_hs h;
		char why[128] = "";
		size_t len = 24 + (cases[i].alen <= 256 ? cases[i].alen : 0);

		for (int b = 0; b < 8; b++) {
			in[b] = (uint8_t)(cases[i].proto >> (8 * b));
			in[8 + b] = (uint8_t)(7ull >> (8 * b));
			in[16 + b] = (uint8_t)(cases[i].alen >> (8 * b));
		}
		if (cases[i].addr)
			memcpy(in + 24, cases[i].addr, strlen(cases[i].addr));
		else
			memset(in + 24, 'x', (size_t)cases[i].alen);
		ms_peer_hs_init(&h);
		assert_int_equal(ms_peer_hs_feed(&h, in, len, why, sizeof(why)), -EPROTO);
		assert_string_equal(why, cases[i].why);
	}
}

/* Our handshake: the address field carries, after libraft's padding, the magic and the key;
 * libraft would read the same address. Fields without the magic, or too short for a key
 * after it, have none. */
static void test_key(void **state)
{
	uint8_t key[MS_PEER_HS_KEY_LEN], out[MS_PEER_HS_PREAMBLE + MS_PEER_HS_MAX_ADDR];
	static const struct {
		size_t cut;         /* bytes of the key extension dropped from the field */
		bool bad_magic;
		bool has_key;
	} cases[] = {
		{ 0, false, true },
		{ 0, true, false },
		{ 8, false, false },  /* magic and 24 bytes: no room for a key */
		{ 40, false, false }, /* libraft's exact bytes */
	};
	struct ms_peer_hs h;
	char why[128] = "";
	ssize_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(0xa0 + i);
	n = ms_peer_hs_encode(0x0102030405060708ull, "127.0.0.1:2380", key, out, sizeof(out));
	assert_int_equal(n, sizeof(golden) + 40);
	/* the preamble says 56 bytes of address field; then the golden address, padded */
	assert_int_equal(out[16], 56);
	assert_memory_equal(out + 24, golden + 24, 16);
	assert_memory_equal(out + 40, "msfwdk1", 8);
	assert_memory_equal(out + 48, key, sizeof(key));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t in[sizeof(out)];
		size_t len = (size_t)n - cases[i].cut;

		memcpy(in, out, (size_t)n);
		in[16] = (uint8_t)(len - 24);
		if (cases[i].bad_magic)
			in[40] = 'M';
		ms_peer_hs_init(&h);
		assert_int_equal(ms_peer_hs_feed(&h, in, len, why, sizeof(why)), len);
		assert_int_equal(ms_peer_hs_need(&h), 0);
		assert_string_equal(h.address, "127.0.0.1:2380");
		if (cases[i].has_key) {
			assert_non_null(h.key);
			assert_memory_equal(h.key, key, sizeof(key));
		} else {
			assert_null(h.key);
		}
	}
	/* the longest address that still fits with a key: 216 bytes of field and 40 */
	char addr[216];

	memset(addr, 'a', sizeof(addr) - 1);
	addr[sizeof(addr) - 1] = '\0';
	assert_int_equal(ms_peer_hs_encode(1, addr, key, out, sizeof(out)), 24 + 256);
	assert_int_equal(ms_peer_hs_encode(1, addr, key, out, 24 + 255), -ENOSPC);
	assert_int_equal(ms_peer_hs_encode(1, "127.0.0.1:1", key, out, 24 + 15 + 40), -ENOSPC);
	assert_string_equal(why, "");
}

static void test_check(void **state)
{
	static const struct ms_raft_peer members[] = {
		{ .id = 0x11, .name = "n1", .address = "127.0.0.1:2380" },
		{ .id = 0x22, .name = "n2", .address = "127.0.0.1:2480" },
		{ .id = 0x33, .name = "n3", .address = "127.0.0.1:2580" },
	};
	static const struct {
		uint64_t id;
		const char *address, *why; /* why NULL: accepted */
	} cases[] = {
		{ 0x22, "127.0.0.1:2480", NULL },
		{ 0x33, "127.0.0.1:2580", NULL },
		{ 0x11, "127.0.0.1:2380", "server id 0000000000000011 is this member's own" },
		{ 0x44, "127.0.0.1:2680",
		  "server id 0000000000000044 (address '127.0.0.1:2680') is not a member" },
		{ 0, "", "server id 0000000000000000 (address '') is not a member" },
		{ 0x22, "127.0.0.1:2580",
		  "server id 0000000000000022 claims address '127.0.0.1:2580', member n2 is at 127.0.0.1:2480" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char why[256] = "";
		int rc = ms_peer_hs_check(members, 3, 0x11, cases[i].id, cases[i].address, why,
					  sizeof(why));

		assert_int_equal(rc, cases[i].why ? -EPERM : 0);
		assert_string_equal(why, cases[i].why ? cases[i].why : "");
	}
	/* a member alone accepts no one */
	char why[256];

	assert_int_equal(ms_peer_hs_check(members, 1, 0x11, 0x22, "127.0.0.1:2480", why,
					  sizeof(why)), -EPERM);
	assert_string_equal(why, "server id 0000000000000022 (address '127.0.0.1:2480') is not a member");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_decode_splits),
		cmocka_unit_test(test_need),
		cmocka_unit_test(test_decode_refused),
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
