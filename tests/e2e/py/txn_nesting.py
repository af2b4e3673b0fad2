"""Nested txns at etcd's limit (KV_MAX_TXN_OPS = 128 operations, one per level here) against
one member: deeper ones are refused before anything is proposed, the member stays up.
Usage: txn_nesting.py HOST:PORT. Prints one line per check; exits 1 on the first failure."""
import sys

import rawgrpc

TOO_MANY = "etcdserver: too many operations in txn request"


def check(cond, what):
    if not cond:
        print("FAIL: " + what)
        sys.exit(1)
    print("ok: " + what)


def raft_index(c):
    return c.status()[5][0]  # StatusResponse.raftIndex


def main():
    c = rawgrpc.Client(sys.argv[1])
    for depth in (5000, 129):
        before = raft_index(c)
        code, det, _ = c.call("/etcdserverpb.KV/Txn",
                              rawgrpc.nested_txn(depth, b"nest/%d" % depth, b"v"))
        check((code, det) == ("INVALID_ARGUMENT", TOO_MANY),
              "depth %d refused: got %s %r" % (depth, code, det))
        after = raft_index(c)
        check(after == before, "depth %d proposed nothing: raft index %d -> %d"
              % (depth, before, after))
    code, det, resp = c.call("/etcdserverpb.KV/Txn",
                             rawgrpc.nested_txn(128, b"nest/128", b"deep"))
    check(code == "OK", "depth 128 accepted: got %s %r" % (code, det))
    txn = rawgrpc.decode(resp)
    levels = 1
    while 3 in txn:  # TxnResponse.responses
        op = rawgrpc.decode(txn[3][0])
        if 4 not in op:  # ResponseOp.response_txn
            break
        txn = rawgrpc.decode(op[4][0])
        levels += 1
    check(levels == 128, "depth 128 answered with 128 nested responses: got %d" % levels)
    code, det, resp = c.call("/etcdserverpb.KV/Range", rawgrpc.field_bytes(1, b"nest/128"))
    kvs = rawgrpc.decode(resp).get(2, []) if code == "OK" else []
    check(len(kvs) == 1 and rawgrpc.decode(kvs[0])[5][0] == b"deep",
          "the innermost put of depth 128 applied (%d kvs)" % len(kvs))
    for depth in (129, 5000):
        code, det, resp = c.call("/etcdserverpb.KV/Range",
                                 rawgrpc.field_bytes(1, b"nest/%d" % depth))
        check(code == "OK" and 2 not in rawgrpc.decode(resp),
              "nothing of depth %d applied" % depth)
    c.close()


if __name__ == "__main__":
    main()
