"""What a hostile local process sends to a raft peer port: libraft's connection handshake
(protocol 1, a claimed server id and address) and a RequestVote with a higher term that asks
to disrupt the leader, optionally inside TLS. Prints one word: "closed" when the server ended
the connection within the wait, "open" otherwise."""
import argparse
import socket
import ssl
import struct


def handshake(server_id, address):
    addr = address.encode() + b"\0"
    addr += b"\0" * (-len(addr) % 8)
    return struct.pack("<QQQ", 1, server_id, len(addr)) + addr


def request_vote(term, candidate_id):
    # type 3 (RequestVote), body: term, candidate, last log index and term, flags (bit 0:
    # disrupt the leader)
    body = struct.pack("<QQQQQ", term, candidate_id, 1 << 40, term, 1)
    return struct.pack("<QQ", 3, len(body)) + body


def main():
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("server_id", type=lambda s: int(s, 16))
    p.add_argument("address")
    p.add_argument("--term", type=int, default=1000)
    p.add_argument("--tls", action="store_true")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--wait", type=float, default=3.0)
    a = p.parse_args()

    sock = socket.create_connection(("127.0.0.1", a.port), timeout=a.wait)
    try:
        if a.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            if a.cert:
                ctx.load_cert_chain(a.cert, a.key)
            sock = ctx.wrap_socket(sock)
        sock.sendall(handshake(a.server_id, a.address) + request_vote(a.term, a.server_id))
        # the server never answers on this stream: only its close ends the wait
        closed = sock.recv(4096) == b""
    except socket.timeout:
        closed = False
    except (ssl.SSLError, OSError):
        closed = True
    print("closed" if closed else "open")


if __name__ == "__main__":
    main()
