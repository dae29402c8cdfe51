#!/usr/bin/python3
"""OpenCV's MOG2 background subtractor over gray raw frames, the peer of
ls_motion in bench/motion_peer.sh: CPU per frame (one thread) and the frames
it would call "motion".

usage: motion_peer.py FILE WIDTH HEIGHT

MOG2 (Zivkovic 2004/2006) keeps a Gaussian mixture per pixel. A frame counts
as motion when, after a 3x3 opening (which removes single-pixel noise), at
least MIN_FG of its pixels are foreground: 0.25 %, about the area of a person
10 m away in a 1080p picture. Needs Debian's python3-opencv (/usr/bin/python3).
"""
import sys
import time

import cv2
import numpy as np

MIN_FG = 0.0025
WARMUP = 10  # frames not judged, as ls_motion's warm-up


def main():
    if len(sys.argv) != 4:
        sys.exit("motion_peer.py: usage: motion_peer.py FILE WIDTH HEIGHT")
    path, w, h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    cv2.setNumThreads(1)
    mog = cv2.createBackgroundSubtractorMOG2(detectShadows=False)
    kernel = np.ones((3, 3), np.uint8)
    n = judged = motion = 0
    cpu = 0.0
    fs = w * h
    with open(path, "rb") as f:
        while True:
            buf = f.read(fs)
            if len(buf) < fs:
                break
            img = np.frombuffer(buf, np.uint8).reshape(h, w)
            t = time.thread_time()
            fg = mog.apply(img)
            fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, kernel)
            frac = cv2.countNonZero(fg) / fs
            cpu += time.thread_time() - t
            n += 1
            if n > WARMUP:
                judged += 1
                motion += frac >= MIN_FG
    if n == 0:
        sys.exit(f"motion_peer.py: {path}: no complete {w}x{h} frame")
    print(f"MOG2 {path} {w}x{h}: {n} frames, CPU per frame {cpu / n * 1e3:.3f} ms; "
          f"after warm-up: motion (>= {MIN_FG * 100:.2f}% foreground) in {motion} of {judged}")


if __name__ == "__main__":
    main()
