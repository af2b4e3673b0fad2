"""A txn is checked before it writes anything, and its compares (nested ones too) see the
store as it was before the txn, as etcd's applier does (compareToPath, checkRequests).
Usage: txn_atomic.py HOST:PORT. Prints one line per check; exits 1 on the first failure."""
import sys

import rawgrpc
from rawgrpc import field_bytes, field_varint

KV = "/etcdserverpb.KV/"
KEY_NOT_FOUND = ("INVALID_ARGUMENT", "etcdserver: key not found")
LEASE_NOT_FOUND = ("NOT_FOUND", "etcdserver: requested lease not found")
FUTURE_REV = ("OUT_OF_RANGE", "etcdserver: mvcc: required revision is a future revision")


def check(cond, what):
    if not cond:
        print("FAIL: " + what)
        sys.exit(1)
    print("ok: " + what)


def need(cond, what):
    """A step that is not itself a check: says only when it fails."""
    if not cond:
        print("FAIL: " + what)
        sys.exit(1)


def put(key, value=b"", ignore_value=False, ignore_lease=False, lease=0, prev_kv=False):
    req = field_bytes(1, key)
    if value:
        req += field_bytes(2, value)
    if lease:
        req += field_varint(3, lease)
    if prev_kv:
        req += field_varint(4, 1)
    if ignore_value:
        req += field_varint(5, 1)
    if ignore_lease:
        req += field_varint(6, 1)
    return field_bytes(2, req)  # RequestOp.request_put


def rng(key, revision=0):
    req = field_bytes(1, key) + (field_varint(4, revision) if revision else b"")  # revision
    return field_bytes(1, req)  # RequestOp.request_range


def delete(key):
    return field_bytes(3, field_bytes(1, key))  # RequestOp.request_delete_range


def value_equal(key, value):
    # Compare{result EQUAL (0), target VALUE (3), key, value}
    return field_varint(2, 3) + field_bytes(3, key) + field_bytes(7, value)


def txn(success=(), failure=(), compare=()):
    return (b"".join(field_bytes(1, c) for c in compare) +
            b"".join(field_bytes(2, op) for op in success) +
            b"".join(field_bytes(3, op) for op in failure))


class Store:
    def __init__(self, endpoint):
        self.c = rawgrpc.Client(endpoint)

    def call(self, method, body):
        return self.c.call(KV + method, body)

    def revision(self):
        code, det, resp = self.call("Range", field_bytes(1, b"t/"))
        need(code == "OK", "range for the revision: %s %r" % (code, det))
        return rawgrpc.decode(rawgrpc.decode(resp)[1][0])[3][0]  # header.revision

    def get(self, key):
        """The key's value, or None when it is absent."""
        code, det, resp = self.call("Range", field_bytes(1, key))
        need(code == "OK", "range %r: %s %r" % (key, code, det))
        kvs = rawgrpc.decode(resp).get(2, [])
        return rawgrpc.decode(kvs[0]).get(5, [b""])[0] if kvs else None

    def refused(self, what, body, want, untouched):
        """A txn refused with `want` leaves the revision and the keys `untouched` as they were."""
        before = self.revision()
        values = [self.get(k) for k in untouched]
        code, det, _ = self.call("Txn", body)
        check((code, det) == want, "%s: refused with %s: got %s %r" % (what, want, code, det))
        after = self.revision()
        check(after == before, "%s: the revision stays %d: got %d" % (what, before, after))
        got = [self.get(k) for k in untouched]
        check(got == values, "%s: keys %r stay %r: got %r" % (what, untouched, values, got))


def main():
    s = Store(sys.argv[1])
    code, det, _ = s.call("Put", rawgrpc.put_request(b"t/old", b"old"))
    need(code == "OK", "put t/old: %s %r" % (code, det))

    s.refused("ignore_value on a missing key after a put",
              txn([put(b"t/b", b"1"), put(b"t/none", ignore_value=True)]), KEY_NOT_FOUND,
              [b"t/b", b"t/none"])
    s.refused("ignore_lease on a missing key after a delete",
              txn([delete(b"t/old"), put(b"t/none", b"v", ignore_lease=True)]), KEY_NOT_FOUND,
              [b"t/old", b"t/none"])
    s.refused("a missing lease after a put",
              txn([put(b"t/c", b"1"), put(b"t/d", b"1", lease=0x7eadbeef)]), LEASE_NOT_FOUND,
              [b"t/c", b"t/d"])
    s.refused("ignore_value on a missing key in a nested txn",
              txn([put(b"t/e", b"1"), field_bytes(4, txn([put(b"t/none", ignore_value=True)]))]),
              KEY_NOT_FOUND, [b"t/e", b"t/none"])
    s.refused("ignore_value in the failure branch a nested compare chooses",
              txn([put(b"t/f", b"1"),
                   field_bytes(4, txn([], [put(b"t/none", ignore_value=True)],
                                      [value_equal(b"t/old", b"other")]))]),
              KEY_NOT_FOUND, [b"t/f", b"t/none"])
    rev = s.revision()
    s.refused("a range at a future revision after a put",
              txn([put(b"t/g", b"1"), rng(b"t/g", rev + 1)]), FUTURE_REV, [b"t/g"])
    s.refused("puts are checked before ranges",
              txn([rng(b"t/g", rev + 5), put(b"t/none", ignore_value=True)]), KEY_NOT_FOUND,
              [b"t/none"])

    # A nested compare sees the store before the txn, not the txn's own earlier writes.
    code, det, _ = s.call("Txn", txn([put(b"t/k", b"1"),
                                      field_bytes(4, txn([put(b"t/x", b"after")],
                                                         [put(b"t/x", b"before")],
                                                         [value_equal(b"t/k", b"1")]))]))
    check(code == "OK", "txn with a nested compare: %s %r" % (code, det))
    x = s.get(b"t/x")
    check(x == b"before", "the nested compare saw the store before the txn: t/x = %r" % x)

    # A compare reads only its own target's operand: MOD against a version operand is MOD
    # against 0 (etcd's compareKV), and VALUE against a lease operand is VALUE against "".
    for what, cmp, key in (
            ("mod > a version operand", field_varint(1, 1) + field_varint(2, 2) +
             field_bytes(3, b"t/old") + field_varint(4, 5), b"t/y"),
            ("value > a lease operand", field_varint(1, 1) + field_varint(2, 3) +
             field_bytes(3, b"t/old") + field_bytes(7, b"zzz") + field_varint(8, 0x72), b"t/z")):
        code, det, _ = s.call("Txn", txn([put(key, b"held")], [put(key, b"not held")], [cmp]))
        check(code == "OK", "txn with %s: %s %r" % (what, code, det))
        v = s.get(key)
        check(v == b"held", "%s holds (against the zero operand): %r" % (what, v))

    # The same txn without its faults applies whole, in one revision.
    rev = s.revision()
    code, det, resp = s.call("Txn", txn([put(b"t/h", b"1"),
                                         put(b"t/old", ignore_value=True, prev_kv=True)]))
    check(code == "OK", "put and ignore_value put of a stored key: %s %r" % (code, det))
    got = (s.revision(), s.get(b"t/h"), s.get(b"t/old"))
    check(got == (rev + 1, b"1", b"old"), "one revision, both puts: got %r" % (got,))
    s.c.close()


if __name__ == "__main__":
    main()
