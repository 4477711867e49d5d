#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check a screenshot of the framebuffer console (tests/lab/test_gpu_01.sh).

  gpu_screen.py size PNG                 print "WIDTHxHEIGHT"
  gpu_screen.py blank PNG                every pixel has one colour
  gpu_screen.py text PNG CELLWxCELLH COL ROW1 ROW2 TEXT
                                         TEXT, printed by the test at
                                         column COL of rows ROW1 and ROW2
                                         (1-based, console cells), is there

"text" passes only when: every non-space character cell holds a glyph
(foreground pixels) and every space cell none; the two rows are identical
cell by cell; equal characters have equal glyphs and different characters
different ones (a font, not noise); and no foreground pixel lies outside
the text. A screen without the text, with garbage, or shifted fails.

Exit 0 pass, 1 fail (the reason on stdout), 2 unreadable PNG. Only the
PNG subset libpng writes for us is read: 8-bit RGB, not interlaced.
"""
import struct
import sys
import zlib
from collections import Counter


def die(code, msg):
    print(msg)
    sys.exit(code)


def read_png(path):
    """Return (width, height, rows): rows are bytes of width * 3."""
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as e:
        die(2, f'{path}: {e.strerror}')
    if data[:8] != b'\x89PNG\r\n\x1a\n':
        die(2, f'{path}: not a PNG')
    pos, idat, width = 8, [], None
    while pos + 8 <= len(data):
        length, kind = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b'IHDR':
            width, height, depth, ctype, _, _, interlace = \
                struct.unpack('>IIBBBBB', body)
            if depth != 8 or ctype != 2 or interlace:
                die(2, f'{path}: depth {depth} colour type {ctype} interlace {interlace}')
        elif kind == b'IDAT':
            idat.append(body)
        elif kind == b'IEND':
            break
    if width is None:
        die(2, f'{path}: no IHDR')
    try:
        raw = zlib.decompress(b''.join(idat))
    except zlib.error as e:
        die(2, f'{path}: {e}')
    stride = width * 3
    if len(raw) != height * (stride + 1):
        die(2, f'{path}: {len(raw)} bytes of image data for {width}x{height}')
    rows, prev = [], bytes(stride)
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)]
        if ftype != 0:
            line = unfilter(ftype, bytearray(line), prev)
        rows.append(bytes(line))
        prev = rows[-1]
    return width, height, rows


def unfilter(ftype, cur, prev):
    """PNG filters 1-4 (bytes per pixel 3)."""
    for i in range(len(cur)):
        a = cur[i - 3] if i >= 3 else 0
        b = prev[i]
        c = prev[i - 3] if i >= 3 else 0
        if ftype == 1:
            p = a
        elif ftype == 2:
            p = b
        elif ftype == 3:
            p = (a + b) // 2
        elif ftype == 4:
            pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
            p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
        else:
            die(2, f'unknown PNG filter {ftype}')
        cur[i] = (cur[i] + p) & 0xff
    return cur


def background(width, height, rows):
    sample = Counter()
    for y in range(0, height, 7):
        for x in range(0, width, 13):
            sample[rows[y][x * 3:x * 3 + 3]] += 1
    return sample.most_common(1)[0][0]


def foreground(width, rows, bg):
    """Set of (x, y) whose colour is not the background."""
    bgrow = bg * width
    fg = set()
    for y, row in enumerate(rows):
        if row == bgrow:
            continue
        for x in range(width):
            if row[x * 3:x * 3 + 3] != bg:
                fg.add((x, y))
    return fg


def cell(fg, x0, y0, cw, ch):
    return frozenset((x - x0, y - y0) for x in range(x0, x0 + cw)
                     for y in range(y0, y0 + ch) if (x, y) in fg)


def check_text(width, height, rows, cw, ch, col, row1, row2, text):
    bg = background(width, height, rows)
    fg = foreground(width, rows, bg)
    if not fg:
        die(1, 'text absent: the screen is blank')
    glyphs, inside = {}, set()
    for r in (row1, row2):
        y0 = (r - 1) * ch
        for i, c in enumerate(text):
            x0 = (col - 1 + i) * cw
            if x0 + cw > width or y0 + ch > height:
                die(1, f'cell {col + i},{r} is off the {width}x{height} screen')
            g = cell(fg, x0, y0, cw, ch)
            inside |= {(x0 + x, y0 + y) for x, y in g}
            if c == ' ':
                if g:
                    die(1, f'space at {col + i},{r} has {len(g)} foreground pixels')
                continue
            if len(g) < 3:
                die(1, f'text absent: "{c}" at cell {col + i},{r} has {len(g)} foreground pixels')
            if c in glyphs and glyphs[c] != g:
                die(1, f'"{c}" at cell {col + i},{r} differs from another "{c}"')
            glyphs[c] = g
    seen = {}
    for c, g in glyphs.items():
        if g in seen:
            die(1, f'"{c}" and "{seen[g]}" have the same glyph: not text')
        seen[g] = c
    stray = fg - inside
    if stray:
        x, y = min(stray, key=lambda p: (p[1], p[0]))
        die(1, f'{len(stray)} foreground pixels outside the text, first at {x},{y}')
    print(f'text found: {len(glyphs)} distinct glyphs of {cw}x{ch}, '
          f'{len(inside)} foreground pixels, background #{bg.hex()}')


def main(argv):
    if len(argv) < 3:
        die(2, __doc__)
    width, height, rows = read_png(argv[2])
    if argv[1] == 'size' and len(argv) == 3:
        print(f'{width}x{height}')
    elif argv[1] == 'blank' and len(argv) == 3:
        n = len(foreground(width, rows, background(width, height, rows)))
        if n:
            die(1, f'not blank: {n} pixels differ from the background')
        print('blank')
    elif argv[1] == 'text' and len(argv) == 8:
        cw, ch = (int(v) for v in argv[3].split('x'))
        check_text(width, height, rows, cw, ch, int(argv[4]), int(argv[5]),
                   int(argv[6]), argv[7])
    else:
        die(2, __doc__)


if __name__ == '__main__':
    main(sys.argv)
