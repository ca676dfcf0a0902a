#!/usr/bin/env bash
# Regenerates unifont-subset.hex from Debian's `unifont` package
# (apt-get install unifont). Keeps the ranges a Chinese/Latin warning text
# needs; everything else is reported as an unknown glyph at upload.
set -euo pipefail
src=${1:-/usr/share/unifont/unifont.hex}
out="$(dirname "$0")/unifont-subset.hex"
awk -F: '
function inr(c, lo, hi) { return c >= lo && c <= hi }
{
  c = strtonum("0x" $1)
  if (inr(c, 0x20, 0x7E) || inr(c, 0xA0, 0xFF) || inr(c, 0x2000, 0x206F) ||
      inr(c, 0x2100, 0x214F) || inr(c, 0x2190, 0x21FF) || inr(c, 0x2460, 0x24FF) ||
      inr(c, 0x2500, 0x25FF) || inr(c, 0x2600, 0x26FF) || inr(c, 0x3000, 0x303F) ||
      inr(c, 0x4E00, 0x9FFF) || inr(c, 0xFF00, 0xFFEF)) print
}' "$src" > "$out"
wc -l "$out"
