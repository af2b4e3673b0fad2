"""A client that claims to be a member forwarding a call: it sends metastore's forwarding
headers (ms-forwarded, ms-forwarded-user, ms-forwarded-proof) with a Put, over plain text or
over TLS with a client certificate. Prints the call's outcome as 'CODE details'.

usage: forge_forward.py HOST:PORT KEY VALUE USER PROOF MARK [CA CERT KEYFILE]
(MARK 1: with ms-forwarded, 0: without)"""
import sys

import grpc

sys.path.insert(0, __import__("os").path.dirname(__file__))
import rawgrpc  # noqa: E402


def main():
    target, key, value, user, proof, mark = sys.argv[1:7]
    if len(sys.argv) > 7:
        ca, cert, keyfile = (open(p, "rb").read() for p in sys.argv[7:10])
        creds = grpc.ssl_channel_credentials(ca, keyfile, cert)
        channel = grpc.secure_channel(target, creds)
    else:
        channel = grpc.insecure_channel(target)
    put = channel.unary_unary("/etcdserverpb.KV/Put")
    md = [("ms-forwarded-user", user), ("ms-forwarded-proof", proof)]
    if mark == "1":
        md.append(("ms-forwarded", "1"))
    try:
        put(rawgrpc.put_request(key.encode(), value.encode()), metadata=md, timeout=5)
        print("OK")
    except grpc.RpcError as e:
        print(e.code().name, e.details())
    channel.close()


main()
