#!/usr/bin/env python3
"""Generates the two GBK tables of src/qr/gbk.rs from Python's `gbk` codec:

  gbk_hanzi.bin  the 6763 GB2312 ideographs in code order (B0A1…F7FE, D7FA–D7FE
                 empty), each its Unicode code point as u16 little-endian;
  gbk_other.bin  every other non-ASCII GBK character outside U+4E00–U+9FA5 and the
                 private-use area, as (code point, GBK code) u16 LE pairs sorted by
                 code point.

The ideographs of U+4E00–U+9FA5 that are not in GB2312 need no table: GBK puts them
in Unicode order into GBK/3 (81–A0 × 40–FE) and then GBK/4 (AA–FE × 40–A0), trail
7F excluded. The script checks that, and checks every character of the BMP against
the codec through the same logic gbk.rs uses. Run: python3 src/qr/gbk_gen.py
"""
import bisect, os, struct

here = os.path.dirname(os.path.abspath(__file__))

def gbk(cp):
    try:
        return chr(cp).encode('gbk')
    except UnicodeEncodeError:
        return None

hanzi = []
for lead in range(0xB0, 0xF8):
    for trail in range(0xA1, 0xFF):
        if lead == 0xD7 and trail > 0xF9:
            continue
        hanzi.append(ord(bytes([lead, trail]).decode('gbk')))
assert len(hanzi) == 6763 and all(0x4E00 <= c <= 0x9FA5 for c in hanzi)

other = []
for cp in range(0x80, 0x10000):
    if 0x4E00 <= cp <= 0x9FA5 or 0xE000 <= cp <= 0xF8FF or 0xD800 <= cp <= 0xDFFF:
        continue
    b = gbk(cp)
    if b is not None and len(b) == 2:
        other.append((cp, b[0] << 8 | b[1]))

# The same logic as gbk.rs, checked against the codec for every BMP character.
slots = [(l << 8 | t) for l in range(0x81, 0xA1) for t in range(0x40, 0xFF) if t != 0x7F]
slots += [(l << 8 | t) for l in range(0xAA, 0xFF) for t in range(0x40, 0xA1) if t != 0x7F]
by_cp = sorted(hanzi)
hanzi_code = {}
i = 0
for lead in range(0xB0, 0xF8):
    for trail in range(0xA1, 0xFF):
        if lead == 0xD7 and trail > 0xF9:
            continue
        hanzi_code[hanzi[i]] = lead << 8 | trail
        i += 1
other_map = dict(other)
for cp in range(0x80, 0x10000):
    if 0xE000 <= cp <= 0xF8FF or 0xD800 <= cp <= 0xDFFF:
        continue
    want = gbk(cp)
    if 0x4E00 <= cp <= 0x9FA5:
        if cp in hanzi_code:
            got = hanzi_code[cp]
        else:
            got = slots[cp - 0x4E00 - bisect.bisect_left(by_cp, cp)]
    else:
        got = other_map.get(cp)
    got_b = None if got is None else bytes([got >> 8, got & 0xFF])
    if want is not None and len(want) == 1:
        want = None  # single-byte forms other than ASCII are not used
    assert got_b == want, (hex(cp), got_b, want)

with open(os.path.join(here, 'gbk_hanzi.bin'), 'wb') as f:
    f.write(b''.join(struct.pack('<H', c) for c in hanzi))
with open(os.path.join(here, 'gbk_other.bin'), 'wb') as f:
    f.write(b''.join(struct.pack('<HH', c, g) for c, g in other))
print(f'gbk_hanzi.bin: {len(hanzi)} ideographs; gbk_other.bin: {len(other)} characters')
