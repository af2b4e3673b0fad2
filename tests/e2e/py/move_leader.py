"""Maintenance.MoveLeader sent to one chosen endpoint (etcdctl always picks the leader), so
that a test can see what a member that does not lead answers. Prints "CODE details"."""
import sys

import rawgrpc


def main():
    endpoint, target = sys.argv[1], int(sys.argv[2], 16)
    c = rawgrpc.Client(endpoint)
    code, details, _ = c.call("/etcdserverpb.Maintenance/MoveLeader",
                              rawgrpc.field_varint(1, target))
    c.close()
    print(code, details)


if __name__ == "__main__":
    main()
