#!/usr/bin/env bash
# Regenerates unifont-subset.hex from Debian's `unifont` package
# (apt-get install unifont). Keeps the blocks a Chinese/Latin warning text
# needs — all of GB2312 (hanzi and symbols), GBK's hanzi and symbols and CJK
# Extension A — and drops the glyphs Unifont draws for invisible format
# characters (dotted boxes reading "ZW SP", "SHY", "L SEP"): ingest removes
# those characters, and anything not here is refused at upload by name.
# `coverage.py` counts what the result covers.
set -euo pipefail
src=${1:-/usr/share/unifont/unifont.hex}
out="$(dirname "$0")/unifont-subset.hex"
awk -F: '
function inr(c, lo, hi) { return c >= lo && c <= hi }
{
  c = strtonum("0x" $1)
  # Invisible format characters: never drawn.
  if (c == 0xAD || inr(c, 0x200B, 0x200F) || inr(c, 0x2028, 0x202E) ||
      inr(c, 0x2060, 0x206F)) next
  if (inr(c, 0x20, 0x7E) ||      # Basic Latin
      inr(c, 0xA0, 0x24F) ||     # Latin-1, Latin Extended-A/B (pinyin)
      inr(c, 0x250, 0x2FF) ||    # IPA, spacing modifiers (ˇ ˉ ˊ ˋ ˙)
      inr(c, 0x370, 0x3FF) ||    # Greek
      inr(c, 0x400, 0x4FF) ||    # Cyrillic
      inr(c, 0x1E00, 0x1EFF) ||  # Latin Extended Additional (ḿ)
      inr(c, 0x2000, 0x206F) ||  # General Punctuation
      inr(c, 0x2070, 0x20CF) ||  # super/subscripts, currency
      inr(c, 0x2100, 0x218F) ||  # Letterlike, Number Forms (Ⅰ–Ⅻ)
      inr(c, 0x2190, 0x23FF) ||  # Arrows, Math Operators (≥ ≤ √), Misc Technical
      inr(c, 0x2460, 0x27BF) ||  # Enclosed Alphanumerics … Dingbats
      inr(c, 0x2E80, 0x2FFF) ||  # CJK and Kangxi radicals, description characters
      inr(c, 0x3000, 0x33FF) ||  # CJK punctuation, kana, bopomofo, strokes, enclosed (㈠), compatibility
      inr(c, 0x3400, 0x4DBF) ||  # CJK Extension A
      inr(c, 0x4E00, 0x9FFF) ||  # CJK Unified Ideographs
      inr(c, 0xF900, 0xFAFF) ||  # CJK Compatibility Ideographs
      inr(c, 0xFE10, 0xFE1F) ||  # Vertical forms
      inr(c, 0xFE30, 0xFE6F) ||  # CJK compatibility forms, small form variants
      inr(c, 0xFF00, 0xFFEF)) print  # Halfwidth and Fullwidth Forms
}' "$src" > "$out"
wc -l "$out"
