/* Unit tests for the wire-level txn nesting scan (metastore/apply/txn_depth.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "apply/txn_depth.h"
#include "rpc.pb-c.h"

/* Packs a txn nesting `depth` txns in all, through success (or failure) ops, the innermost
 * holding one put; `compares` compares at each level. Returns malloc'ed bytes. */
static uint8_t *nested(int depth, bool via_failure, int compares, size_t *len)
{
	Etcdserverpb__TxnRequest *txns = calloc((size_t)depth, sizeof(*txns));
	Etcdserverpb__RequestOp *ops = calloc((size_t)depth, sizeof(*ops));
	Etcdserverpb__RequestOp **op_ptrs = calloc((size_t)depth, sizeof(*op_ptrs));
	Etcdserverpb__Compare cmp = ETCDSERVERPB__COMPARE__INIT;
	Etcdserverpb__Compare *cmps[4] = { &cmp, &cmp, &cmp, &cmp };
	Etcdserverpb__PutRequest put = ETCDSERVERPB__PUT_REQUEST__INIT;
	uint8_t *buf;

	assert_non_null(txns);
	assert_non_null(ops);
	assert_non_null(op_ptrs);
	cmp.key = (ProtobufCBinaryData){ 1, (uint8_t *)"k" };
	put.key = (ProtobufCBinaryData){ 1, (uint8_t *)"k" };
	for (int i = 0; i < depth; i++) {
		etcdserverpb__txn_request__init(&txns[i]);
		etcdserverpb__request_op__init(&ops[i]);
		op_ptrs[i] = &ops[i];
		txns[i].compare = cmps;
		txns[i].n_compare = (size_t)compares;
		if (i + 1 < depth) {
			ops[i].request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_TXN;
			ops[i].request_txn = &txns[i + 1];
		} else {
			ops[i].request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
			ops[i].request_put = &put;
		}
		if (via_failure) {
			txns[i].failure = &op_ptrs[i];
			txns[i].n_failure = 1;
		} else {
			txns[i].success = &op_ptrs[i];
			txns[i].n_success = 1;
		}
	}
	*len = etcdserverpb__txn_request__get_packed_size(&txns[0]);
	buf = malloc(*len);
	assert_non_null(buf);
	etcdserverpb__txn_request__pack(&txns[0], buf);
	free(txns);
	free(ops);
	free(op_ptrs);
	return buf;
}

static void test_depths(void **state)
{
	static const struct {
		int depth;
		bool via_failure;
		int compares;
		int max;
		int want;
	} cases[] = {
		{ 1, false, 0, 128, 1 },     { 2, false, 1, 128, 2 },     { 2, true, 2, 128, 2 },
		{ 128, false, 0, 128, 128 }, { 129, false, 0, 128, 129 }, { 129, true, 3, 128, 129 },
		{ 5000, false, 0, 128, 129 }, { 10, false, 0, 4, 5 },     { 4, false, 0, 4, 4 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;
		uint8_t *buf = nested(cases[i].depth, cases[i].via_failure, cases[i].compares, &len);

		print_message("case %zu: depth %d\n", i, cases[i].depth);
		assert_int_equal(ms_txn_depth(buf, len, cases[i].max), cases[i].want);
		free(buf);
	}
}

static void test_empty_and_malformed(void **state)
{
	static const struct {
		const char *bytes;
		size_t len;
		int want;
	} cases[] = {
		{ "", 0, 1 },                   /* an empty txn */
		{ "\x12", 1, -1 },              /* success: length missing */
		{ "\x12\x05\x22\x01", 4, -1 },  /* success longer than the message */
		{ "\x12\x02\x22\x05", 4, -1 },  /* request_txn longer than its op */
		{ "\x0b", 1, -1 },              /* wire type 3 (groups) */
		{ "\x08\x96\x01", 3, 1 },       /* an unknown varint field is skipped */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("case %zu\n", i);
		assert_int_equal(ms_txn_depth((const uint8_t *)cases[i].bytes, cases[i].len, 128),
				 cases[i].want);
	}
}

static void test_in_field(void **state)
{
	size_t len;
	uint8_t *txn = nested(130, false, 0, &len);
	/* an entry: field 1 (a header, 2 bytes), then field 12 holding the txn */
	size_t n = 0;
	uint8_t *entry = malloc(len + 16);

	(void)state;
	assert_non_null(entry);
	entry[n++] = 0x0a;
	entry[n++] = 0x02;
	entry[n++] = 0x08;
	entry[n++] = 0x01;
	entry[n++] = 12 << 3 | 2;
	for (size_t v = len; ; v >>= 7) {
		entry[n++] = (uint8_t)((v & 0x7f) | (v >> 7 ? 0x80 : 0));
		if (!(v >> 7))
			break;
	}
	memcpy(entry + n, txn, len);
	n += len;
	assert_int_equal(ms_txn_depth_in(entry, n, 12, 128), 129);
	assert_int_equal(ms_txn_depth_in(entry, n, 12, 200), 130);
	assert_int_equal(ms_txn_depth_in(entry, n, 11, 128), 0); /* no such field */
	free(entry);
	free(txn);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_depths),
		cmocka_unit_test(test_empty_and_malformed),
		cmocka_unit_test(test_in_field),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
