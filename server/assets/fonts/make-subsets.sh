#!/bin/sh
# Regenerates the PDF report fonts from Debian packages (run by hand; the
# build never downloads anything):
#   apt-get install fonts-droid-fallback fonts-dejavu-core && pip install fonttools
#   sh server/assets/fonts/make-subsets.sh
# CJK: Droid Sans Fallback (Apache-2.0) cut to GB 2312 (6763 hanzi and its
# symbols) plus CJK punctuation and full-width forms. Latin: DejaVu Sans
# (Bitstream Vera licence) cut to ASCII and Latin-1. Droid Sans Fallback has
# no ASCII glyphs, so reports use both (the Latin font first).
set -eu
cd "$(dirname "$0")"
droid=/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf
dejavu=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
python3 - >gb2312.txt <<'PY'
chars = set()
for a in range(0xA1, 0xF8):
    for b in range(0xA1, 0xFF):
        try:
            chars.add(bytes([a, b]).decode("gb2312"))
        except UnicodeDecodeError:
            pass
print(",".join("U+%04X" % ord(c) for c in sorted(chars)))
PY
pyftsubset "$droid" --unicodes-file=gb2312.txt --unicodes="U+3000-303F,U+FF01-FF5E,U+2014,U+2026,U+00B7" \
    --no-hinting --layout-features='' --drop-tables+=vhea,vmtx,GDEF,GPOS,GSUB --name-IDs='*' \
    --output-file=DroidSansFallback-gb2312.ttf
pyftsubset "$dejavu" --unicodes="U+0020-007E,U+00A0-00FF,U+2013-2014,U+2018-201D,U+2026,U+2212" \
    --no-hinting --layout-features='' --drop-tables+=GDEF,GPOS,GSUB --name-IDs='*' \
    --output-file=DejaVuSans-latin.ttf
rm gb2312.txt
ls -l DroidSansFallback-gb2312.ttf DejaVuSans-latin.ttf
