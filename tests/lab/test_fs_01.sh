#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Description: virtio-fs served by QEMU's virtiofsd, the tag from the
# adapter's --tag (virtiofsd has no config space): a tree of files of many
# sizes, symlinks, modes and xattrs copied in and out with identical
# checksums; rename, unlink, mmap read/write and fsync seen by the back-end's
# directory; unmount and remount keep everything; bad options and a wrong
# tag fail clearly.
# Memory modes: isolated zero-copy
# Check runs: 6.12/zero-copy
. "$(dirname "$0")/common.sh"
_prep_test
virtiofsd=/usr/lib/qemu/virtiofsd
[ -x "$virtiofsd" ] || _fail "$virtiofsd missing (scripts/install-deps installs qemu-system-common)"

share=$TEST_DIR/share
mnt=$TEST_DIR/mnt
sock=$TEST_DIR/fs.sock
mkdir -p "$share"

# Options that cannot work fail before anything is created.
for bad in "--tag $(printf 'x%.0s' $(seq 37))" "--tag ''" "--mtu 1500" "--request-queues 0"; do
	eval "set -- $bad"
	if virtio-loopback-adapter --socket /nonexistent --device fs "$@" 2>"$TEST_DIR/bad.err"; then
		_fail "adapter accepted $bad"
	fi
	[ "$(wc -l <"$TEST_DIR/bad.err")" = 1 ] || _fail "adapter $bad: not one line: $(cat "$TEST_DIR/bad.err")"
	_log "rejected $bad: $(cat "$TEST_DIR/bad.err")"
done
_vl_none || _fail "a rejected adapter left a device"

"$virtiofsd" --socket-path="$sock" -o source="$share" -o sandbox=chroot -o xattr \
	>"$TEST_DIR/virtiofsd.log" 2>&1 &
_PIDS+=($!)
_wait_for 30 _is_socket "$sock" || _fail "virtiofsd did not create $sock"
_start_adapter vdev --socket "$sock" --device fs --tag vltest
d=/sys/bus/virtio/devices/$vdev
[ "$(cat "$d/device")" = 0x001a ] || _fail "$vdev is device $(cat "$d/device"), not virtio-fs"

mount -t virtiofs wrongtag "$mnt" 2>"$TEST_DIR/mount.err" &&
	_fail "mounting an unknown tag succeeded"
_log "wrong tag: $(head -n1 "$TEST_DIR/mount.err")"
_run mount -t virtiofs vltest "$mnt"
findmnt -n -o FSTYPE,SOURCE "$mnt" | grep -q '^virtiofs *vltest$' || _fail "not mounted: $(findmnt "$mnt")"

# manifest DIR: path, type, mode, size, link target, sha256, xattrs; sorted.
manifest() {
	python3 - "$1" <<'PY'
import hashlib, os, sys
root = sys.argv[1]
out = []
for dirpath, dirs, files in os.walk(root):
    for name in sorted(dirs + files):
        p = os.path.join(dirpath, name)
        rel = os.path.relpath(p, root)
        st = os.lstat(p)
        line = [rel, oct(st.st_mode)]
        if os.path.islink(p):
            line.append("-> " + os.readlink(p))
        elif os.path.isfile(p):
            with open(p, "rb") as f:
                line += [str(st.st_size), hashlib.sha256(f.read()).hexdigest()]
        if not os.path.islink(p):
            for x in sorted(os.listxattr(p)):
                if x.startswith("user."):
                    line.append(x + "=" + os.getxattr(p, x).hex())
        out.append(" ".join(line))
print("\n".join(sorted(out)))
PY
}

# The source tree: sizes around page and request boundaries, nesting,
# symlinks (one dangling), modes, user xattrs, an empty file and dir.
src=$TEST_DIR/src
mkdir -p "$src/a/b/c" "$src/empty" "$src/modes"
n=0
for size in 0 1 511 4095 4096 4097 65535 131072 1048583 4194304; do
	head -c "$size" /dev/urandom >"$src/a/f$n"
	n=$((n + 1))
done
head -c 3000000 /dev/urandom >"$src/a/b/c/deep"
ln -s a/f3 "$src/rel-link"
ln -s /nonexistent/target "$src/a/dangling"
for m in 600 644 755 444 700; do
	echo "mode $m" >"$src/modes/m$m"
	chmod "$m" "$src/modes/m$m"
done
chmod 750 "$src/a/b"
# User xattrs need tmpfs support (Linux 6.6+) where the tree and the
# back-end's directory live: tested where the kernel has it.
xattrs="not supported by tmpfs on $(uname -r), not tested"
if python3 -c 'import os, sys; os.setxattr(sys.argv[1], "user.probe", b"1")' "$share" 2>/dev/null; then
	python3 -c 'import os, sys; os.setxattr(sys.argv[1], "user.vltest", b"\x00\x01value"); os.setxattr(sys.argv[2], "user.dir", b"d")' \
		"$src/a/f2" "$src/a/b" || _fail "cannot set xattrs on tmpfs"
	python3 -c 'import os, sys; os.removexattr(sys.argv[1], "user.probe")' "$share"
	xattrs="kept"
fi
want=$(manifest "$src")

# In: through virtio-fs, then as the back-end's directory holds it.
_run cp -a "$src" "$mnt/tree"
sync
[ "$(manifest "$mnt/tree")" = "$want" ] || _fail "tree read through virtio-fs differs"
[ "$(manifest "$share/tree")" = "$want" ] || {
	diff <(echo "$want") <(manifest "$share/tree") | head -n 10
	_fail "tree in the back-end's directory differs"
}
# Out: copied back from virtio-fs.
_run cp -a "$mnt/tree" "$TEST_DIR/out"
[ "$(manifest "$TEST_DIR/out")" = "$want" ] || _fail "tree copied out differs"
_log "tree of $(echo "$want" | wc -l) entries, $(du -sb "$src" | cut -f1) bytes: in and out identical; xattrs $xattrs"

# rename and unlink, seen by the back-end.
_run mv "$mnt/tree/a/f5" "$mnt/tree/a/b/renamed"
_run rm "$mnt/tree/a/f6"
{ [ -f "$share/tree/a/b/renamed" ] && [ ! -e "$share/tree/a/f5" ]; } || _fail "rename not seen by the back-end"
[ ! -e "$share/tree/a/f6" ] || _fail "unlink not seen by the back-end"
cmp -s "$src/a/f5" "$share/tree/a/b/renamed" || _fail "renamed file differs"

# mmap: read a file the back-end wrote, write through a shared mapping,
# msync + fsync: the back-end's file has the bytes.
head -c 1048576 /dev/urandom >"$share/mapped"
python3 - "$mnt/mapped" "$share/mapped" <<'PY' || _fail "mmap read/write through virtio-fs"
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, 0)
with open(sys.argv[2], "rb") as f:
    assert m[:] == f.read(), "mapped bytes differ from the back-end's file"
for off in (0, 4095, 4096, 700000, 1048575):
    m[off:off + 1] = b"\xa5"
m.flush()
m.close()
os.fsync(fd)
os.close(fd)
with open(sys.argv[2], "rb") as f:
    data = f.read()
for off in (0, 4095, 4096, 700000, 1048575):
    assert data[off] == 0xa5, "byte %d not written back" % off
PY
# fsync of a write: on the back-end's file when fsync returns.
python3 - "$mnt/synced" <<'PY' || _fail "write + fsync"
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b"fsync-check\n" * 1000)
os.fsync(fd)
os.close(fd)
PY
[ "$(sha256sum <"$share/synced")" = "$(yes fsync-check | head -n 1000 | sha256sum)" ] ||
	_fail "fsync'ed file differs in the back-end's directory"
_log "rename, unlink, mmap read/write, fsync: seen by the back-end"

# Unmount and remount: same tree, the page cache cannot help.
want2=$(manifest "$mnt/tree")
_run umount "$mnt"
echo 3 >/proc/sys/vm/drop_caches
_run mount -t virtiofs vltest "$mnt"
[ "$(manifest "$mnt/tree")" = "$want2" ] || _fail "tree differs after remount"
_run umount "$mnt"

# FUSE sends page-sized pieces: below the zero-copy threshold, bounced.
_mem_log "$vdev"
_pass
