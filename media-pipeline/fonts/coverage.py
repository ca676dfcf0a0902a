#!/usr/bin/env python3
"""Counts which characters of GB2312, GBK and CJK Extension A the embedded
font subset draws, and writes gb2312.txt (every GB2312 character, for the
media pipeline's coverage test). Uses Python's own codecs: `gb2312` is
strict EUC-CN (7,445 characters), `gbk` is CP936's superset.

    python3 media-pipeline/fonts/coverage.py
"""
import os
import unicodedata

here = os.path.dirname(os.path.abspath(__file__))
have = set()
with open(os.path.join(here, "unifont-subset.hex")) as f:
    for line in f:
        have.add(int(line.split(":", 1)[0], 16))


def charset(codec, lead, trail):
    out = []
    for a in lead:
        for b in trail:
            try:
                c = bytes([a, b]).decode(codec)
            except UnicodeDecodeError:
                continue
            if len(c) == 1:
                out.append(c)
    return out


gb2312 = charset("gb2312", range(0xA1, 0xF8), range(0xA1, 0xFF))
gbk = charset("gbk", range(0x81, 0xFF), list(range(0x40, 0x7F)) + list(range(0x80, 0xFF)))
ext_a = [chr(c) for c in range(0x3400, 0x4DC0)]
pua = [c for c in gbk if 0xE000 <= ord(c) <= 0xF8FF]


def report(name, chars):
    # NFC is applied at ingest, so a character counts as covered when its
    # NFC form is drawn.
    missing = [c for c in chars if not all(ord(n) in have for n in unicodedata.normalize("NFC", c))]
    print(f"{name}: {len(chars) - len(missing)} of {len(chars)} covered" + (
        f"; missing {len(missing)}: " + "".join(missing[:40]) if missing else ""))
    return missing


report("GB2312", gb2312)
hanzi = [c for c in gb2312 if 0x4E00 <= ord(c) <= 0x9FFF]
print(f"  of which hanzi {len(hanzi)}, symbols and other scripts {len(gb2312) - len(hanzi)}")
report("GBK", gbk)
print(f"  GBK characters in the Private Use Area (vendor glyphs, not drawable): {len(pua)}")
report("GBK without PUA", [c for c in gbk if c not in pua])
report("CJK Ext-A", ext_a)
with open(os.path.join(here, "gb2312.txt"), "w", encoding="utf-8") as f:
    f.write("".join(gb2312) + "\n")
