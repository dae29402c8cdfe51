#!/usr/bin/python3
"""Checks redacted frames against a corpus scenario's ground truth.

Usage:
  check_redaction.py TRUTH_DIR OUTPUT [--mask-color R,G,B] [--tolerance N]
                     [--shrink N] [--map FILE] [--min-visible F]
                     [--only-complete] [--ignore-kind KIND ...]
                     [--require-all] [--list N] [--per-frame FILE]

TRUTH_DIR is one scenario written by gen_corpus.py (truth.json and the
input PNGs).  OUTPUT is a directory of PNG frames (taken in name order)
or a video file that ffmpeg decodes (mp4, mkv, ...).  Output frame i
shows input frame i, unless --map names a JSON list whose element i is
the input index of output frame i (null: no input, not checked).

A pixel is masked when each channel is within --tolerance of the mask
colour.  A personal-data box is masked when every pixel of the box
shrunk by --shrink pixels on each side is masked; anything less is a
leak.  Over-masking counts output pixels that are masked, were not
already mask-coloured in the input frame, and lie outside every
personal-data box; it is given per frame as a share of the frame area
and of the area of all text lines.

Prints one JSON summary on stdout.  Exit status: 0 no leak, 1 a leak
(or, with --require-all, an input frame no output frame showed), 2 bad
arguments or unreadable input (one line on stderr).
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
from PIL import Image


class Fail(Exception):
	pass


def load_png(path, w, h):
	try:
		with Image.open(path) as im:
			a = np.asarray(im.convert("RGB"))
	except (OSError, ValueError) as e:
		raise Fail("%s: cannot read: %s" % (path, e))
	if a.shape[:2] != (h, w):
		raise Fail("%s: %dx%d, the truth is %dx%d" % (path, a.shape[1], a.shape[0], w, h))
	return a


def png_frames(d, w, h):
	names = sorted(f for f in os.listdir(d) if f.lower().endswith(".png"))
	if not names:
		raise Fail("%s: no .png frames" % d)
	return len(names), (load_png(os.path.join(d, n), w, h) for n in names)


def video_frames(path, w, h):
	"""Decodes path to RGB frames with ffmpeg; every decoded frame once
	(no frame-rate conversion)."""
	try:
		probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
			"stream=width,height", "-of", "csv=p=0", path], capture_output=True, text=True)
	except OSError as e:
		raise Fail("ffprobe: %s" % e)
	if probe.returncode != 0 or not probe.stdout.strip():
		raise Fail("%s: not a video ffprobe can read: %s" % (path, probe.stderr.strip()[:200]))
	vw, vh = (int(v) for v in probe.stdout.strip().splitlines()[0].split(",")[:2])
	if (vw, vh) != (w, h):
		raise Fail("%s: %dx%d, the truth is %dx%d" % (path, vw, vh, w, h))

	def gen():
		p = subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-map", "0:v:0", "-vsync", "passthrough",
			"-f", "rawvideo", "-pix_fmt", "rgb24", "-"], stdout=subprocess.PIPE)
		size = w * h * 3
		try:
			while True:
				buf = p.stdout.read(size)
				if len(buf) < size:
					break
				yield np.frombuffer(buf, np.uint8).reshape(h, w, 3)
		finally:
			p.stdout.close()
			if p.wait() != 0:
				raise Fail("%s: ffmpeg failed to decode (status %d)" % (path, p.returncode))
	return None, gen()


def parse_color(s):
	try:
		c = [int(v) for v in s.split(",")]
	except ValueError:
		c = []
	if len(c) != 3 or any(v < 0 or v > 255 for v in c):
		raise argparse.ArgumentTypeError("want R,G,B with values 0..255, got %r" % s)
	return c


def stats(v):
	if not v:
		return dict(mean=0.0, p50=0.0, max=0.0)
	a = np.asarray(v)
	return dict(mean=round(float(a.mean()), 6), p50=round(float(np.median(a)), 6), max=round(float(a.max()), 6))


def main(argv=None):
	ap = argparse.ArgumentParser(description="Checks redacted frames against corpus ground truth (tests/corpus/README.md).")
	ap.add_argument("truth", help="scenario directory with truth.json")
	ap.add_argument("output", help="directory of PNG frames, or a video file")
	ap.add_argument("--mask-color", type=parse_color, default=[0, 0, 0], help="R,G,B of the mask (default 0,0,0)")
	ap.add_argument("--tolerance", type=int, default=24,
		help="per-channel difference still counted as mask colour (default 24: survives a YUV 4:2:0 round trip)")
	ap.add_argument("--shrink", type=int, default=1, help="pixels each box is shrunk by before checking (default 1)")
	ap.add_argument("--map", help="JSON list: input frame index of each output frame (null: none)")
	ap.add_argument("--min-visible", type=float, default=0.0,
		help="check only boxes with at least this share of their area on screen (scrolling; default 0: all)")
	ap.add_argument("--only-complete", action="store_true", help="skip values still being typed")
	ap.add_argument("--ignore-kind", action="append", default=[], help="personal-data kind not to check (repeatable)")
	ap.add_argument("--require-all", action="store_true", help="fail when an input frame is shown by no output frame")
	ap.add_argument("--list", type=int, default=50, help="leaks listed in the summary (default 50)")
	ap.add_argument("--per-frame", help="write per-frame results as JSON lines to this file")
	a = ap.parse_args(argv)
	if a.tolerance < 0 or a.shrink < 0:
		ap.error("--tolerance and --shrink must be >= 0")
	try:
		summary, leaks = check(a)
	except Fail as e:
		print("check_redaction: %s" % e, file=sys.stderr)
		return 2
	print(json.dumps(summary, indent=1, ensure_ascii=False))
	if leaks:
		return 1
	if a.require_all and summary["frames_unshown"]:
		return 1
	return 0


def check(a):
	tpath = os.path.join(a.truth, "truth.json")
	try:
		with open(tpath) as f:
			truth = json.load(f)
		w, h, frames = truth["width"], truth["height"], truth["frames"]
	except (OSError, ValueError, KeyError, TypeError) as e:
		raise Fail("%s: not a corpus truth file: %s" % (tpath, e))
	if os.path.isdir(a.output):
		nout, outs = png_frames(a.output, w, h)
	elif os.path.isfile(a.output):
		nout, outs = video_frames(a.output, w, h)
	else:
		raise Fail("%s: no such file or directory" % a.output)
	mapping = None
	if a.map:
		try:
			with open(a.map) as f:
				mapping = json.load(f)
			if not isinstance(mapping, list) or any(m is not None and (not isinstance(m, int) or isinstance(m, bool)
					or m < 0 or m >= len(frames)) for m in mapping):
				raise ValueError("want a list of input indices 0..%d or null" % (len(frames) - 1))
		except (OSError, ValueError) as e:
			raise Fail("%s: %s" % (a.map, e))

	bounds = [(max(0, c - a.tolerance), min(255, c + a.tolerance)) for c in a.mask_color]

	def masked(img):
		# per channel on uint8 planes: much faster than a reduce over axis 2
		m = None
		for ch, (lo, hi) in enumerate(bounds):
			v = img[:, :, ch]
			c = v <= hi if lo == 0 else (v >= lo if hi == 255 else (v >= lo) & (v <= hi))
			m = c if m is None else m & c
		return m

	in_cache = {}

	def input_mask(fr):
		p = os.path.join(a.truth, fr["file"])
		try:
			with open(p, "rb") as f:
				data = f.read()
		except OSError as e:
			raise Fail("%s: %s" % (p, e))
		key = hashlib.sha256(data).digest()
		if key not in in_cache:
			in_cache.clear()  # consecutive frames share pictures; keep one
			in_cache[key] = masked(load_png(p, w, h))
		return in_cache[key]

	s = dict(truth=a.truth, output=a.output, scenario=truth.get("scenario"), frames_truth=len(frames),
		frames_output=0, frames_checked=0, frames_unmapped=0, frames_unshown=0, pii_boxes_checked=0,
		pii_boxes_skipped=dict(too_small=0, min_visible=0, incomplete=0, kind=0), leaks=0, leaked_frames=0,
		leaks_by_kind={}, leak_list=[], decoys_checked=0, decoys_masked=0, frames_fully_masked=0,
		mask_color=list(a.mask_color), tolerance=a.tolerance, shrink=a.shrink)
	over_frame, over_text = [], []
	shown = set()
	pf = open(a.per_frame, "w") if a.per_frame else None
	sh = a.shrink
	try:
		for oi, out in enumerate(outs):
			s["frames_output"] += 1
			ii = oi if mapping is None else (mapping[oi] if oi < len(mapping) else None)
			if ii is None or ii >= len(frames):
				s["frames_unmapped"] += 1
				continue
			fr = frames[ii]
			shown.add(ii)
			m = masked(out)
			newly = m & ~input_mask(fr)
			pii_area = np.zeros((h, w), bool)
			frame_leaks = 0
			for b in fr["pii"]:
				x, y, bw, bh = b["x"], b["y"], b["w"], b["h"]
				pii_area[y:y + bh, x:x + bw] = True
				if b["kind"] in a.ignore_kind:
					s["pii_boxes_skipped"]["kind"] += 1
					continue
				if b.get("visible", 1.0) < a.min_visible:
					s["pii_boxes_skipped"]["min_visible"] += 1
					continue
				if a.only_complete and not b.get("complete", True):
					s["pii_boxes_skipped"]["incomplete"] += 1
					continue
				if bw <= 2 * sh or bh <= 2 * sh:
					s["pii_boxes_skipped"]["too_small"] += 1
					continue
				region = m[y + sh:y + bh - sh, x + sh:x + bw - sh]
				s["pii_boxes_checked"] += 1
				bad = int(region.size - np.count_nonzero(region))
				if bad:
					frame_leaks += 1
					s["leaks"] += 1
					s["leaks_by_kind"][b["kind"]] = s["leaks_by_kind"].get(b["kind"], 0) + 1
					if len(s["leak_list"]) < a.list:
						s["leak_list"].append(dict(frame=oi, input_frame=ii, kind=b["kind"], x=x, y=y, w=bw, h=bh,
							unmasked_px=bad, unmasked_fraction=round(bad / region.size, 4), text=b.get("text"),
							complete=b.get("complete", True), visible=b.get("visible", 1.0)))
			for b in fr.get("decoys", []):
				x, y, bw, bh = b["x"], b["y"], b["w"], b["h"]
				if bw <= 2 * sh or bh <= 2 * sh:
					continue
				s["decoys_checked"] += 1
				if m[y + sh:y + bh - sh, x + sh:x + bw - sh].mean() >= 0.5:
					s["decoys_masked"] += 1
			text_area = np.zeros((h, w), bool)
			for b in fr["lines"]:
				text_area[b["y"]:b["y"] + b["h"], b["x"]:b["x"] + b["w"]] = True
			over = int(np.count_nonzero(newly & ~pii_area))
			of = over / (w * h)
			ot = over / max(1, int(np.count_nonzero(text_area)))
			over_frame.append(of)
			over_text.append(ot)
			full = m.mean() >= 0.99
			s["frames_fully_masked"] += int(full)
			s["leaked_frames"] += int(frame_leaks > 0)
			s["frames_checked"] += 1
			if pf:
				pf.write(json.dumps(dict(frame=oi, input_frame=ii, leaks=frame_leaks, overmask_frame=round(of, 6),
					overmask_text=round(ot, 6), fully_masked=bool(full))) + "\n")
	finally:
		if pf:
			pf.close()
	if nout is not None and s["frames_output"] != nout:
		raise Fail("%s: read %d of %d frames" % (a.output, s["frames_output"], nout))
	if s["frames_checked"] == 0:
		raise Fail("%s: no output frame maps to an input frame" % a.output)
	s["frames_unshown"] = len(frames) - len(shown)
	s["overmask_frame"] = stats(over_frame)
	s["overmask_text"] = stats(over_text)
	s["fully_masked_fraction"] = round(s["frames_fully_masked"] / s["frames_checked"], 6)
	return s, s["leaks"]


if __name__ == "__main__":
	sys.exit(main())
