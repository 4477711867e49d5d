#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Description: virtio-vsock served by our vhost-user-vsock (hybrid vsock
# over unix sockets), driven by vmw_vsock_virtio_transport and socat: the
# driver's CID comes from the config space; 64 MiB each way (host program
# -> "CONNECT P" -> socat VSOCK-LISTEN, and socat VSOCK-CONNECT:2:P ->
# UNIX-LISTEN on PATH_P) with identical sha256; 32 connections at once in
# each direction through echo servers, each with its own data, verified;
# a port without a listener is refused both ways (ECONNRESET in the
# machine, "ERR connection refused" on the host), and so are another
# CID and bad CONNECT lines ("ERR ..."); removing the device with
# connections open ends every socat on both sides, and the back-end
# serves the next front-end.
# Memory modes: isolated zero-copy
# Check runs: 6.12/zero-copy
# Lab timeout: 400
. "$(dirname "$0")/common.sh"
_prep_test
_have_program socat
_have_program python3

CID=5
uds=$TEST_DIR/vs.uds
modprobe vmw_vsock_virtio_transport || _fail "modprobe vmw_vsock_virtio_transport"
modprobe vsock_diag || _fail "modprobe vsock_diag"
# g_listening PORT: a socket in this machine listens on vsock PORT.
g_listening() { ss --vsock -ln | grep -Eq "[:.]$1[[:space:]]"; }
vhost-user-vsock --socket-path "$TEST_DIR/vsock.sock" --guest-cid $CID \
	--uds-path "$uds" 2> >(tee "$TEST_DIR/be.log" >&2) &
BE_PID=$!
_PIDS+=("$BE_PID")
_wait_for 30 _is_socket "$TEST_DIR/vsock.sock" || _fail "vhost-user-vsock did not create its socket"
_is_socket "$uds" || _fail "vhost-user-vsock did not listen on $uds"

# Bad options: one clear line, non-zero status.
if vhost-user-vsock --socket-path "$TEST_DIR/x.sock" --guest-cid 2 --uds-path "$TEST_DIR/x" \
	2>"$TEST_DIR/badopt.err"; then
	_fail "--guest-cid 2 accepted"
fi
grep -q "guest-cid" "$TEST_DIR/badopt.err" || _fail "--guest-cid 2 refused without saying why"

_start_adapter vdev --socket "$TEST_DIR/vsock.sock" --device vsock

local_cid() {
	python3 -c 'import fcntl, struct
f = open("/dev/vsock", "rb")
print(struct.unpack("I", fcntl.ioctl(f, 0x7b9, bytes(4)))[0])' 2>/dev/null
}
cid_is() { [ "$(local_cid)" = "$1" ]; }
_wait_for 30 cid_is $CID || _fail "local CID is $(local_cid), expected $CID from the config space"
_log "$vdev: local CID $CID (config space), t=${SECONDS} s"

# One host program's connection: "CONNECT P" then FILE; stdout to OUT.
host_connect() {
	local port=$1 file=$2 out=$3
	{ printf 'CONNECT %s\n' "$port"; cat "$file"; } |
		timeout 120 socat -t 60 - "UNIX-CONNECT:$uds" >"$out"
}
sha() { sha256sum "$1" | cut -d' ' -f1; }

head -c 64M /dev/urandom >"$TEST_DIR/big" || _fail "making 64 MiB of data"
big_sha=$(sha "$TEST_DIR/big")

# 1. host -> machine: CONNECT 5000 reaches socat VSOCK-LISTEN:5000.
t0=$SECONDS
timeout 120 socat -u VSOCK-LISTEN:5000 "CREATE:$TEST_DIR/g.recv" 2>"$TEST_DIR/g1.err" &
g1=$!
_wait_for 20 g_listening 5000 || _fail "socat VSOCK-LISTEN:5000 did not start"
host_connect 5000 "$TEST_DIR/big" "$TEST_DIR/h1.out" || _fail "host side of the 64 MiB transfer failed"
wait "$g1" || _fail "socat VSOCK-LISTEN failed: $(cat "$TEST_DIR/g1.err")"
grep -Eq '^OK [0-9]+$' "$TEST_DIR/h1.out" || _fail "host program got \"$(head -c 80 "$TEST_DIR/h1.out")\", not OK <port>"
[ "$(sha "$TEST_DIR/g.recv")" = "$big_sha" ] ||
	_fail "64 MiB host -> machine: sha256 differs ($(stat -c %s "$TEST_DIR/g.recv") bytes arrived)"
_log "64 MiB host -> machine port 5000 in $((SECONDS - t0)) s, sha256 equal, host got \"$(cat "$TEST_DIR/h1.out")\""
rm -f "$TEST_DIR/g.recv"

# 2. machine -> host: VSOCK-CONNECT:2:5001 reaches UNIX-LISTEN on PATH_5001.
t0=$SECONDS
timeout 120 socat -u "UNIX-LISTEN:${uds}_5001" "CREATE:$TEST_DIR/h.recv" 2>"$TEST_DIR/h2.err" &
h2=$!
_wait_for 10 _is_socket "${uds}_5001" || _fail "socat UNIX-LISTEN did not start"
timeout 120 socat -u "OPEN:$TEST_DIR/big" VSOCK-CONNECT:2:5001 2>"$TEST_DIR/g2.err" ||
	_fail "socat VSOCK-CONNECT:2:5001 failed: $(cat "$TEST_DIR/g2.err")"
wait "$h2" || _fail "socat UNIX-LISTEN failed: $(cat "$TEST_DIR/h2.err")"
[ "$(sha "$TEST_DIR/h.recv")" = "$big_sha" ] ||
	_fail "64 MiB machine -> host: sha256 differs ($(stat -c %s "$TEST_DIR/h.recv") bytes arrived)"
_log "64 MiB machine -> host port 5001 in $((SECONDS - t0)) s, sha256 equal, t=${SECONDS} s"
rm -f "$TEST_DIR/h.recv" "$TEST_DIR/big"

# 3. 32 connections at once each way through echo servers, own data
# each (one process per side: 64 socat+cat pairs would starve TCG).
cat >"$TEST_DIR/many.py" <<'PYEOF'
import os, random, selectors, socket, sys, time

def payload(i):
    return random.Random(i).randbytes(16 * 1024 + i * 997)

def run_echo(lsock):
    sel = selectors.DefaultSelector()
    lsock.setblocking(False)
    sel.register(lsock, selectors.EVENT_READ, None)
    bufs = {}
    while True:
        for key, ev in sel.select():
            s = key.fileobj
            if s is lsock:
                c, _ = lsock.accept()
                c.setblocking(False)
                bufs[c] = [b"", False]
                sel.register(c, selectors.EVENT_READ, None)
                continue
            st = bufs[s]
            if ev & selectors.EVENT_READ and not st[1]:
                try:
                    d = s.recv(65536)
                except ConnectionError:
                    d = b""
                if d:
                    st[0] += d
                else:
                    st[1] = True
            if st[0]:
                try:
                    n = s.send(st[0])
                    st[0] = st[0][n:]
                except BlockingIOError:
                    pass
            if st[1] and not st[0]:
                sel.unregister(s)
                s.close()
                del bufs[s]
                continue
            sel.modify(s, (0 if st[1] else selectors.EVENT_READ) |
                       (selectors.EVENT_WRITE if st[0] else 0))

def run_clients(make, n, prefix):
    sel = selectors.DefaultSelector()
    conns = {}
    for i in range(1, n + 1):
        s = make()
        s.setblocking(False)
        exp = payload(i)
        conns[s] = {"i": i, "out": prefix + exp, "in": b"", "exp": exp, "eof": False}
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    deadline = time.monotonic() + 120
    left = n
    while left:
        if time.monotonic() > deadline:
            sys.exit("timeout: %d connections unfinished" % left)
        for key, ev in sel.select(5):
            s = key.fileobj
            c = conns[s]
            if ev & selectors.EVENT_WRITE and c["out"]:
                try:
                    k = s.send(c["out"])
                    c["out"] = c["out"][k:]
                except BlockingIOError:
                    pass
                if not c["out"]:
                    s.shutdown(socket.SHUT_WR)
            if ev & selectors.EVENT_READ:
                try:
                    d = s.recv(65536)
                except ConnectionError as e:
                    sys.exit("connection %d: %s" % (c["i"], e))
                if d:
                    c["in"] += d
                else:
                    sel.unregister(s)
                    s.close()
                    left -= 1
                    got = c["in"]
                    if prefix:
                        line, _, got = got.partition(b"\n")
                        if not line.startswith(b"OK "):
                            sys.exit("connection %d: got %r, not OK" % (c["i"], line[:60]))
                        c["port"] = int(line[3:])
                    if got != c["exp"]:
                        sys.exit("connection %d: %d bytes back, %d sent, differ" % (c["i"], len(got), len(c["exp"])))
                    continue
            sel.modify(s, selectors.EVENT_READ | (selectors.EVENT_WRITE if c["out"] else 0))
    if prefix:
        ports = {c["port"] for c in conns.values()}
        if len(ports) != n:
            sys.exit("%d connections got %d distinct ports" % (n, len(ports)))
    print("%d connections verified" % n)

mode = sys.argv[1]
if mode == "echo-vsock":
    l = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    l.bind((socket.VMADDR_CID_ANY, int(sys.argv[2])))
    l.listen(128)
    run_echo(l)
elif mode == "echo-unix":
    l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    l.bind(sys.argv[2])
    l.listen(128)
    run_echo(l)
elif mode == "client-vsock":
    port, n = int(sys.argv[2]), int(sys.argv[3])
    def mk():
        s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
        s.connect((2, port))
        return s
    run_clients(mk, n, b"")
elif mode == "client-unix":
    path, port, n = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    def mk():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        return s
    run_clients(mk, n, b"CONNECT %d\n" % port)
PYEOF
N=32
t0=$SECONDS
python3 "$TEST_DIR/many.py" echo-unix "${uds}_6000" 2>"$TEST_DIR/echo_h.err" &
echo_h=$!
python3 "$TEST_DIR/many.py" echo-vsock 7000 2>"$TEST_DIR/echo_g.err" &
echo_g=$!
_wait_for 20 _is_socket "${uds}_6000" || _fail "host echo server did not start"
_wait_for 20 g_listening 7000 || _fail "machine echo server did not start"
timeout 150 python3 "$TEST_DIR/many.py" client-vsock 6000 "$N" >"$TEST_DIR/mg.out" 2>&1 &
mg=$!
timeout 150 python3 "$TEST_DIR/many.py" client-unix "$uds" 7000 "$N" >"$TEST_DIR/mh.out" 2>&1 ||
	_fail "host -> machine, $N connections: $(tail -n2 "$TEST_DIR/mh.out")"
wait "$mg" || _fail "machine -> host, $N connections: $(tail -n2 "$TEST_DIR/mg.out")"
kill "$echo_h" "$echo_g" 2>/dev/null
wait "$echo_h" "$echo_g" 2>/dev/null
_log "2 x $N echo connections at once (16 KiB + i * 997 bytes each) in $((SECONDS - t0)) s, every stream intact, $N distinct host ports"

# 4. Refusals, both ways.
if timeout 30 socat -u OPEN:/dev/null VSOCK-CONNECT:2:7777 2>"$TEST_DIR/r1.err"; then
	_fail "VSOCK-CONNECT to a host port without a listener succeeded"
fi
grep -Eqi 'reset by peer|refused' "$TEST_DIR/r1.err" || _fail "no listener: $(cat "$TEST_DIR/r1.err")"
if timeout 30 socat -u OPEN:/dev/null VSOCK-CONNECT:7:1 2>"$TEST_DIR/r2.err"; then
	_fail "VSOCK-CONNECT to CID 7 succeeded"
fi
grep -Eqi 'reset by peer|refused' "$TEST_DIR/r2.err" || _fail "CID 7: $(cat "$TEST_DIR/r2.err")"
_log "machine -> host refusals: $(tail -n1 "$TEST_DIR/r1.err" | sed 's/.*E //'); CID 7: $(tail -n1 "$TEST_DIR/r2.err" | sed 's/.*E //'), t=${SECONDS} s"
refused() {
	local reply
	reply=$(printf '%b' "$1" | timeout 30 socat -t 20 - "UNIX-CONNECT:$uds")
	[ "$reply" = "ERR $2" ] || _fail "host sent $(printf %q "$1"), got \"$reply\", expected \"ERR $2\""
}
refused 'CONNECT 7778\n' "connection refused"
refused 'CONNECT garbage\n' 'expected "CONNECT <port>"'
refused 'CONNECT 99999999999\n' 'expected "CONNECT <port>"'
refused 'connect 5000\n' 'expected "CONNECT <port>"'
refused "CONNECT $(printf '%0100d' 1)" 'line too long, expected "CONNECT <port>"'
_log "host -> machine refusals: no listener, garbage, overflow, lower case, no end of line: each ERR, t=${SECONDS} s"
kill -0 "$BE_PID" || _fail "vhost-user-vsock died"
# Logged, not asserted: the driver's packets are slab buffers (kmalloc'd
# skbs) of at most 64 KiB, which zero-copy bounces (only non-slab pages
# can be mapped into the back-end).
_mem_log "$vdev"

# 5. Remove the device with connections open: every socat ends.
for f in f1 f2 f3 f4; do mkfifo "$TEST_DIR/$f"; done
socat VSOCK-LISTEN:8000 - <"$TEST_DIR/f4" >/dev/null 2>&1 &
g1=$!
exec 6>"$TEST_DIR/f4"
_wait_for 20 g_listening 8000 || _fail "idle machine listener did not start"
socat - "UNIX-CONNECT:$uds" <"$TEST_DIR/f1" >"$TEST_DIR/idle1.out" 2>&1 &
h1=$!
exec 7>"$TEST_DIR/f1"
printf 'CONNECT 8000\n' >&7
socat "UNIX-LISTEN:${uds}_8001" - <"$TEST_DIR/f3" >/dev/null 2>&1 &
h2=$!
exec 9>"$TEST_DIR/f3"
_wait_for 10 _is_socket "${uds}_8001" || _fail "idle host listener did not start"
socat - VSOCK-CONNECT:2:8001 <"$TEST_DIR/f2" >/dev/null 2>&1 &
g2=$!
exec 8>"$TEST_DIR/f2"
_wait_for 30 grep -q '^OK' "$TEST_DIR/idle1.out" || _fail "idle host connection got no OK"
sleep 2
kill -0 "$g1" "$g2" "$h1" "$h2" 2>/dev/null || _fail "an idle connection ended early"
kill -TERM "$ADAPTER_PID"
_wait_gone "$ADAPTER_PID" 30 || _fail "adapter did not exit on SIGTERM"
for p in $g1 $g2 $h1 $h2; do
	_wait_gone "$p" 20 || _fail "socat $p still runs 20 s after the device went away"
done
exec 6>&- 7>&- 8>&- 9>&-
_log "device removed with 2 connections open: all 4 socat processes ended, t=${SECONDS} s"
kill -0 "$BE_PID" || _fail "vhost-user-vsock died when its front-end left"

# The back-end serves the next front-end.
_start_adapter vdev --socket "$TEST_DIR/vsock.sock" --device vsock
_wait_for 30 cid_is $CID || _fail "no CID $CID after the second adapter"
timeout 60 socat -u "UNIX-LISTEN:${uds}_5002" "CREATE:$TEST_DIR/again" &
h3=$!
_wait_for 10 _is_socket "${uds}_5002" || _fail "socat UNIX-LISTEN did not start"
echo "again" | timeout 30 socat -u - VSOCK-CONNECT:2:5002 || _fail "connect after the second adapter"
wait "$h3"
[ "$(cat "$TEST_DIR/again")" = again ] || _fail "second front-end: data lost"
grep -E 'reset:|bad packet' "$TEST_DIR/be.log" | tail -n 3
_log "done in ${SECONDS} s"
_pass
