#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Write hand-made valid inputs for the harnesses in tests/fuzz/.

Usage: gen-seeds.py DIR -- creates DIR/<harness>/seed-*. They are the
starting point of a corpus (make -C tests/fuzz seeds run merge); the
formats are described at the top of each fuzz_*.c.
"""
import os
import struct
import sys

V = 0x1          # VHOST_USER_VERSION
NEED_REPLY = 0x8
REPLY = 0x4 | V
QVA = 0x7000000000

# Request numbers (lib/vhost_user.h).
GET_FEATURES, SET_FEATURES, SET_OWNER, RESET_OWNER, SET_MEM_TABLE = 1, 2, 3, 4, 5
SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE, GET_VRING_BASE = 8, 9, 10, 11
SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR = 12, 13, 14
GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES, GET_QUEUE_NUM = 15, 16, 17
SET_VRING_ENABLE, SET_BACKEND_REQ_FD = 18, 21
GET_CONFIG, SET_CONFIG, RESET_DEVICE = 24, 25, 34
GET_MAX_MEM_SLOTS, ADD_MEM_REG, REM_MEM_REG, SET_STATUS, GET_STATUS = 36, 37, 38, 39, 40
GET_INFLIGHT_FD, SET_INFLIGHT_FD = 31, 32
CONFIG_CHANGE_MSG = 2

F_INDIRECT, F_EVENT_IDX, F_PROTOCOL, F_VERSION_1 = 28, 29, 30, 32
P_MQ, P_REPLY_ACK, P_BACKEND_REQ, P_CONFIG = 0, 3, 5, 9
P_RESET, P_MEM_SLOTS, P_STATUS = 13, 15, 16
P_INFLIGHT = 12


def bit(*bits):
    return sum(1 << b for b in bits)


def msg(req, payload=b"", flags=V):
    return struct.pack("<III", req, flags, len(payload)) + payload


def u64(v):
    return struct.pack("<Q", v)


def state(idx, num):
    return struct.pack("<II", idx, num)


def region(gpa, size, uaddr, off):
    return struct.pack("<QQQQ", gpa, size, uaddr, off)


# fuzz_backend_msg: records of ctl (fds | kind << 4), header, payload.
def rec(req, payload=b"", nfds=0, kind=0, flags=V):
    return bytes([nfds | kind << 4]) + msg(req, payload, flags)


def backend_msg_seeds():
    feats = bit(F_VERSION_1, F_INDIRECT, F_EVENT_IDX, F_PROTOCOL)
    proto = bit(P_MQ, P_REPLY_ACK, P_CONFIG, P_BACKEND_REQ, P_RESET, P_MEM_SLOTS, P_STATUS)
    hello = (rec(GET_FEATURES) + rec(GET_PROTOCOL_FEATURES) +
             rec(SET_PROTOCOL_FEATURES, u64(proto)) + rec(GET_QUEUE_NUM) +
             rec(SET_OWNER))
    mem = rec(SET_MEM_TABLE, struct.pack("<II", 1, 0) + region(0, 0x10000, QVA, 0), 1, 0)
    ring = (rec(SET_VRING_NUM, state(0, 8)) + rec(SET_VRING_BASE, state(0, 0)) +
            rec(SET_VRING_ADDR, struct.pack("<IIQQQQ", 0, 0, QVA, QVA + 0x2000, QVA + 0x1000, 0)) +
            rec(SET_VRING_CALL, u64(0), 1, 1) + rec(SET_VRING_KICK, u64(0), 1, 1) +
            rec(SET_VRING_ENABLE, state(0, 1)))
    cfg = (rec(GET_CONFIG, struct.pack("<III", 0, 16, 0) + bytes(16)) +
           rec(SET_CONFIG, struct.pack("<III", 4, 8, 0) + bytes(range(8))))
    stop = rec(GET_VRING_BASE, state(0, 0)) + rec(RESET_DEVICE)
    # The inflight record in the memory memfd: at 0x3000 (zeros: a fresh
    # record) or at 0 (the ring's descriptors: garbage to refuse).
    inflight = hello + rec(SET_PROTOCOL_FEATURES, u64(proto | bit(P_INFLIGHT))) + \
        rec(GET_INFLIGHT_FD, struct.pack("<QQHHI", 0, 0, 2, 8, 0)) + \
        rec(SET_FEATURES, u64(feats)) + mem
    return {
        "inflight-fresh": inflight +
        rec(SET_INFLIGHT_FD, struct.pack("<QQHHI", 384, 0x3000, 2, 8, 0), 1, 0) + ring + stop +
        ring,
        "inflight-garbage": inflight +
        rec(SET_INFLIGHT_FD, struct.pack("<QQHHI", 384, 0, 2, 8, 0), 1, 0) + ring,
        "handshake": hello,
        "start-ring": hello + rec(SET_FEATURES, u64(feats)) + mem + ring + cfg + stop,
        "start-ring-ack": hello + rec(SET_FEATURES, u64(feats), flags=V | NEED_REPLY) + mem +
        ring + rec(SET_STATUS, u64(0xf), flags=V | NEED_REPLY) + rec(GET_STATUS),
        "no-protocol": rec(GET_FEATURES) + rec(SET_FEATURES, u64(bit(F_VERSION_1))) + mem + ring,
        "mem-slots": hello + rec(GET_MAX_MEM_SLOTS) +
        rec(ADD_MEM_REG, u64(0) + region(0, 0x10000, QVA, 0), 1, 0) +
        rec(ADD_MEM_REG, u64(0) + region(0x10000, 0x1000, QVA + 0x10000, 0), 1, 4) +
        rec(REM_MEM_REG, u64(0) + region(0x10000, 0x1000, QVA + 0x10000, 0)) +
        rec(SET_FEATURES, u64(feats)) + ring + rec(RESET_OWNER),
        "err-nofd": hello + rec(SET_VRING_ERR, u64(0x100)) + rec(SET_VRING_KICK, u64(0x101)) +
        rec(SET_BACKEND_REQ_FD, b"", 1, 5),
    }


# fuzz_frontend_reply: opts, cfgsize - 1, u16 len, reply stream, back-end stream.
def reply(req, payload):
    return msg(req, payload, REPLY)


def ack(req):
    return reply(req, u64(0))


def fe(opts, cfgsize, stream, backend=b""):
    return struct.pack("<BBH", opts, cfgsize - 1, len(stream)) + stream + backend


def frontend_reply_seeds():
    feats = bit(F_VERSION_1, F_INDIRECT, F_PROTOCOL)
    proto = bit(P_MQ, P_REPLY_ACK, P_BACKEND_REQ, P_CONFIG, P_RESET, P_STATUS)
    cfg16 = reply(GET_CONFIG, struct.pack("<III", 0, 16, 0) + bytes(range(16)))
    nego = (reply(GET_FEATURES, u64(feats)) + reply(GET_PROTOCOL_FEATURES, u64(proto)) +
            reply(GET_QUEUE_NUM, u64(2)) + ack(SET_BACKEND_REQ_FD) + ack(SET_OWNER))
    ring = b"".join(ack(r) for r in (SET_VRING_NUM, SET_VRING_BASE, SET_VRING_ADDR,
                                      SET_VRING_CALL, SET_VRING_KICK))
    start1 = ack(SET_FEATURES) + ack(SET_MEM_TABLE) + ring + ack(SET_VRING_ENABLE) + ack(SET_STATUS)
    stop1 = ack(SET_VRING_ENABLE) + ack(SET_STATUS) + ack(RESET_DEVICE)
    change = msg(CONFIG_CHANGE_MSG, b"", V | NEED_REPLY)
    # Two queues, queue 1 started disabled, then enabled (opts 0x48).
    start2 = (ack(SET_FEATURES) + ack(SET_MEM_TABLE) + ring + ring + ack(SET_VRING_ENABLE) +
              ack(SET_STATUS) + ack(SET_VRING_ENABLE))
    stop2 = ack(SET_VRING_ENABLE) + ack(SET_VRING_ENABLE) + ack(SET_STATUS) + ack(RESET_DEVICE)
    old = reply(GET_FEATURES, u64(bit(F_VERSION_1)))
    return {
        "full": fe(0x00, 16, nego + cfg16 + start1 + stop1),
        "config-change": fe(0x00, 16, nego + cfg16 + start1 + cfg16 + stop1, change),
        "set-config": fe(0x20, 16, nego + cfg16 + ack(SET_CONFIG) + start1 + stop1),
        "two-queues": fe(0x48, 16, nego + cfg16 + start2 + stop2),
        "refused-config": fe(0x00, 16, nego + reply(GET_CONFIG, b"") + start1 + stop1),
        "no-ack": fe(0x01, 16, reply(GET_FEATURES, u64(feats)) +
                     reply(GET_PROTOCOL_FEATURES, u64(proto)) +
                     reply(GET_VRING_BASE, state(0, 0))),
        "no-protocol": fe(0x00, 16, old + reply(GET_VRING_BASE, state(0, 0))),
        "backend-garbage": fe(0x00, 16, nego + cfg16 + start1 + stop1,
                              msg(7, b"", V | NEED_REPLY) + msg(CONFIG_CHANGE_MSG, b"", REPLY)),
    }


# fuzz_vring: cfg, u16 base, desc table, avail, used, indirect area (0x4000).
def desc(addr, length, flags=0, nxt=0):
    return struct.pack("<QIHH", addr, length, flags, nxt)


NEXT, WRITE, INDIRECT = 1, 2, 4


def vring(logn, flags, descs, heads, base=0, itable=b"", used_idx=0):
    num = 1 << logn
    d = b"".join(descs).ljust(16 * num, b"\0")
    ring = [0] * num
    for i, h in enumerate(heads):
        ring[(base + i) % num] = h
    avail = struct.pack("<HH", 0, (base + len(heads)) & 0xffff) + struct.pack("<%dH" % num, *ring) + b"\0\0"
    used = struct.pack("<HH", 0, used_idx) + bytes(8 * num) + b"\0\0"
    return struct.pack("<BH", logn | flags, base) + d + avail + used + itable


def vring_seeds():
    EVENT, IND, TWO = 0x08, 0x10, 0x20
    return {
        "chain": vring(3, 0, [desc(0x5000, 64, NEXT, 1), desc(0x6000, 128, WRITE)], [0]),
        "two-chains": vring(3, EVENT, [desc(0x5000, 16), desc(0x6000, 32, WRITE)], [0, 1],
                            base=0xfffe, used_idx=0xfffe),
        "indirect": vring(2, IND, [desc(0x4000, 48, INDIRECT)], [0],
                          itable=desc(0x5000, 16, NEXT, 1) + desc(0x5100, 16, NEXT | WRITE, 2) +
                          desc(0x5200, 16, WRITE)),
        "across-regions": vring(1, TWO, [desc(0x7f00, 0x200, WRITE)], [0]),
        "loop": vring(2, 0, [desc(0x5000, 8, NEXT, 1), desc(0x5000, 8, NEXT, 0)], [0]),
        "full-ring": vring(7, EVENT | IND, [desc(0x8000 + 0x10 * i, 16, WRITE) for i in range(128)],
                           list(range(128))),
    }


def main():
    out = sys.argv[1]
    for name, seeds in (("fuzz_backend_msg", backend_msg_seeds()),
                        ("fuzz_frontend_reply", frontend_reply_seeds()),
                        ("fuzz_vring", vring_seeds())):
        os.makedirs(os.path.join(out, name), exist_ok=True)
        for seed, data in seeds.items():
            with open(os.path.join(out, name, "seed-" + seed), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
