#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""WAV helpers for tests/lab/test_sound_*.sh (python3 standard library only).

  sound_wav.py gen PATH BITS RATE CHANNELS FRAMES SEED
      write a PCM WAV of pseudo-random samples (BITS 8, 16, 24 or 32)
  sound_wav.py check-play SOURCE PLAYED
      PLAYED (the back-end's --playback-file) has SOURCE's format and starts
      with SOURCE's samples bit for bit; what follows is silence, shorter
      than half a second (aplay pads its last period)
  sound_wav.py check-rec SOURCE RECORDED
      RECORDED has SOURCE's format and exactly SOURCE's samples

Exit 0 when the check holds, 1 with one line saying what differs.
The WAV files are parsed here, not with the wave module, so the header
itself (sizes, fmt fields, pad byte) is checked too.
"""
import random
import struct
import sys


class WavError(Exception):
    pass


def parse(path):
    """Return (fmt dict, data bytes) after checking the RIFF structure."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 12 or raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise WavError(f"{path}: not a RIFF/WAVE file")
    riff = struct.unpack_from("<I", raw, 4)[0]
    if riff + 8 != len(raw):
        raise WavError(f"{path}: RIFF size {riff} but the file has {len(raw)} bytes")
    off, fmt, data = 12, None, None
    while off + 8 <= len(raw):
        cid, size = raw[off:off + 4], struct.unpack_from("<I", raw, off + 4)[0]
        body = raw[off + 8:off + 8 + size]
        if len(body) != size:
            raise WavError(f"{path}: chunk {cid!r} of {size} bytes is truncated")
        if cid == b"fmt ":
            tag, ch, rate, brate, align, bits = struct.unpack_from("<HHIIHH", body)
            fmt = dict(tag=tag, channels=ch, rate=rate, bits=bits)
            if align != ch * bits // 8 or brate != rate * align:
                raise WavError(f"{path}: inconsistent fmt chunk {fmt}")
        elif cid == b"data":
            data = body
        off += 8 + size + (size & 1)
    if off != len(raw):
        raise WavError(f"{path}: {len(raw) - off} stray bytes after the last chunk")
    if fmt is None or data is None:
        raise WavError(f"{path}: no fmt or no data chunk")
    return fmt, data


def gen(path, bits, rate, channels, frames, seed):
    align = channels * bits // 8
    data = random.Random(seed).randbytes(frames * align)
    hdr = b"RIFF" + struct.pack("<I", 36 + len(data) + (len(data) & 1)) + b"WAVE"
    hdr += b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * align, align, bits)
    hdr += b"data" + struct.pack("<I", len(data))
    with open(path, "wb") as f:
        f.write(hdr + data + (b"\0" if len(data) & 1 else b""))


def check_play(src, out):
    sfmt, sdata = parse(src)
    ofmt, odata = parse(out)
    if sfmt != ofmt:
        raise WavError(f"format {ofmt} in {out}, played {sfmt}")
    if odata[:len(sdata)] != sdata:
        if len(odata) < len(sdata):
            raise WavError(f"{out} has {len(odata)} sample bytes, {len(sdata)} were played")
        first = next(i for i in range(len(sdata)) if odata[i] != sdata[i])
        raise WavError(f"{out} differs from {src} at sample byte {first}")
    tail = odata[len(sdata):]
    silence = 0x80 if sfmt["bits"] == 8 else 0
    limit = sfmt["rate"] * sfmt["channels"] * sfmt["bits"] // 8 // 2
    if any(b != silence for b in tail) or len(tail) > limit:
        raise WavError(f"{out}: {len(tail)} bytes after the clip are not aplay's silence pad")
    return f"{len(sdata)} bytes bit-exact, {len(tail)} bytes of pad"


def check_rec(src, rec):
    sfmt, sdata = parse(src)
    rfmt, rdata = parse(rec)
    if sfmt != rfmt:
        raise WavError(f"recorded format {rfmt}, source {sfmt}")
    if rdata != sdata:
        if len(rdata) != len(sdata):
            raise WavError(f"recorded {len(rdata)} sample bytes, source has {len(sdata)}")
        first = next(i for i in range(len(sdata)) if rdata[i] != sdata[i])
        raise WavError(f"{rec} differs from {src} at sample byte {first}")
    return f"{len(rdata)} bytes bit-exact"


def main(argv):
    try:
        if argv[1:2] == ["gen"] and len(argv) == 8:
            gen(argv[2], *map(int, argv[3:8]))
            return 0
        if argv[1:2] == ["check-play"] and len(argv) == 4:
            print(check_play(argv[2], argv[3]))
            return 0
        if argv[1:2] == ["check-rec"] and len(argv) == 4:
            print(check_rec(argv[2], argv[3]))
            return 0
    except (WavError, OSError) as e:
        print(e)
        return 1
    print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
