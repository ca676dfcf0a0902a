#!/usr/bin/env bash
# Regenerates the demo's sample videos: FFmpeg's built-in `testsrc2` test
# pattern, H.264 (libx264), faststart, no audio. Run at development time only
# (apt-get install ffmpeg); nothing downloads anything. The outputs are
# synthetic test patterns made by this project; FFmpeg's and x264's licences
# (LGPL/GPL) cover those programs, not the pictures they generate.
set -euo pipefail
cd "$(dirname "$0")"
make() { # name seconds
    ffmpeg -loglevel error -y -f lavfi -i "testsrc2=size=480x270:rate=5:duration=$2" \
        -c:v libx264 -preset veryslow -crf 45 -g 50 -pix_fmt yuv420p \
        -movflags +faststart -an "$1.mp4"
}
make w48-pension 30
make hall-drama 90
# A test fixture (fixtures/, not a demo material): 2 s of 1920×1080 H.265 (hvc1) at
# 1 fps, which a profile's default player box (H.264 only) cannot decode.
ffmpeg -loglevel error -y -f lavfi -i "testsrc2=size=1920x1080:rate=1:duration=2" \
    -c:v libx265 -x265-params log-level=error -preset ultrafast -crf 51 -tag:v hvc1 \
    -pix_fmt yuv420p -movflags +faststart -an fixtures/h265-1920x1080.mp4
ls -l ./*.mp4 fixtures/*.mp4
