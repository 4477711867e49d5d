#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A deliberately broken vhost-user back-end for the adapter's bad-input
tests. It listens on a unix socket and misbehaves in one chosen way.

usage: hostile_backend.py SOCKET MODE
MODE: hangup        accept, read one request, close
      wrong-request answer GET_FEATURES with another request number
      short-reply   answer GET_FEATURES with a 4-byte payload
      oversized     announce a 1 MiB payload
      silent        accept and never answer
      no-version-1  a back-end whose features lack VIRTIO_F_VERSION_1
"""
import os
import socket
import struct
import sys
import time

HDR = struct.Struct("<III")
GET_FEATURES = 1
REPLY = 0x1 | 0x4


def recv_msg(conn):
    hdr = conn.recv(HDR.size, socket.MSG_WAITALL)
    if len(hdr) < HDR.size:
        return None
    req, _flags, size = HDR.unpack(hdr)
    payload = conn.recv(size, socket.MSG_WAITALL) if size else b""
    return req, payload


def main():
    path, mode = sys.argv[1], sys.argv[2]
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    conn, _ = srv.accept()
    try:
        msg = recv_msg(conn)
        if msg is None or mode == "hangup":
            return
        if mode == "silent":
            time.sleep(3600)
        elif mode == "wrong-request":
            conn.sendall(HDR.pack(GET_FEATURES + 4, REPLY, 8) + struct.pack("<Q", 1 << 32))
        elif mode == "short-reply":
            conn.sendall(HDR.pack(GET_FEATURES, REPLY, 4) + b"\0\0\0\0")
        elif mode == "oversized":
            conn.sendall(HDR.pack(GET_FEATURES, REPLY, 1 << 20) + b"\0" * 64)
            time.sleep(2)
        elif mode == "no-version-1":
            # Answer every request sensibly, but offer no VERSION_1.
            while msg is not None:
                req, _ = msg
                if req == GET_FEATURES:
                    conn.sendall(HDR.pack(req, REPLY, 8) + struct.pack("<Q", 0))
                elif req in (15, 17):  # GET_PROTOCOL_FEATURES, GET_QUEUE_NUM
                    conn.sendall(HDR.pack(req, REPLY, 8) + struct.pack("<Q", 1))
                msg = recv_msg(conn)
    finally:
        conn.close()
        srv.close()
        os.unlink(path)


if __name__ == "__main__":
    main()
