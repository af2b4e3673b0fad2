"""Raw etcd v3 gRPC requests for end-to-end tests: hand-encoded protobuf, so that tests can
send requests etcdctl cannot (deeply nested txns) to metastore and to etcd alike."""
import grpc


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_bytes(num, data):
    return varint(num << 3 | 2) + varint(len(data)) + data


def field_varint(num, v):
    return varint(num << 3) + varint(v)


def decode(buf):
    """Top-level fields of a message: {field: [values]} (ints for varints, bytes otherwise)."""
    i, out = 0, {}
    while i < len(buf):
        key, i = _read_varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _read_varint(buf, i)
        elif wt == 2:
            n, i = _read_varint(buf, i)
            v, i = buf[i:i + n], i + n
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wt)
        out.setdefault(num, []).append(v)
    return out


def _read_varint(buf, i):
    n = shift = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def put_request(key, value):
    return field_bytes(1, key) + field_bytes(2, value)


def op_put(key, value):
    return field_bytes(2, put_request(key, value))  # RequestOp.request_put


def op_txn(txn):
    return field_bytes(4, txn)  # RequestOp.request_txn


def txn_request(success_ops):
    return b"".join(field_bytes(2, op) for op in success_ops)  # TxnRequest.success


def nested_txn(depth, key, value):
    """A txn nesting `depth` txns in all (1: a plain txn), the innermost one putting key."""
    txn = txn_request([op_put(key, value)])
    for _ in range(depth - 1):
        txn = txn_request([op_txn(txn)])
    return txn


class Client:
    def __init__(self, endpoint, timeout=5.0):
        self.channel = grpc.insecure_channel(endpoint)
        self.timeout = timeout

    def call(self, method, body):
        """Returns (code name, details, response bytes or None)."""
        fn = self.channel.unary_unary(method)
        try:
            return "OK", "", fn(body, timeout=self.timeout)
        except grpc.RpcError as e:
            return e.code().name, e.details(), None

    def status(self):
        code, det, resp = self.call("/etcdserverpb.Maintenance/Status", b"")
        if code != "OK":
            raise RuntimeError("Status: %s %s" % (code, det))
        return decode(resp)

    def close(self):
        self.channel.close()
