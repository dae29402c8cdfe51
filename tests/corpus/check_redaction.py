#!/usr/bin/python3
"""Checks redacted frames against a corpus scenario's ground truth.

Usage:
  check_redaction.py TRUTH_DIR OUTPUT [--mask-color R,G,B] [--tolerance N]
                     [--shrink N] [--map FILE] [--min-visible F]
                     [--only-complete] [--ignore-kind KIND ...]
                     [--require-all] [--list N] [--per-frame FILE]
                     [--steady-from F] [--list-hidden N] [--reference INPUT]
                     [--ink-threshold N] [--pii-margin N] [--shown-max F]

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

Over-masking of text that is not personal data ("steady",
"steady_lines_hidden", "full_change", "readable_after_s"): the text pixels
of a line are the pixels of its box that differ from the box's background
(the median of the 1-px ring around it) by more than --ink-threshold,
less those within --pii-margin px of a personal-data or decoy box.  A text
pixel is hidden when it or any pixel of its 5x5 neighbourhood differs from
the input (--reference: the input as the redactor read it) by more than
--tolerance in a channel: a box in the text's own colour hides black text
as well as a black box does.  A line is shown while at most --shown-max
of its text pixels are hidden.  "steady" sums the frames from --steady-from
(a share of the scene; with a change marker, of the part after the last
change) to the end; "readable_after_s" is the time from a change until
every line is shown.

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


class Reference:
	"""Frames of a PNG directory or a video by index (cheapest in order:
	a video is decoded from the start again when asked for an earlier
	frame)."""

	def __init__(self, path, w, h):
		self.path, self.w, self.h = path, w, h
		self.last = (None, None)
		self.proc = None
		if os.path.isdir(path):
			self.names = sorted(f for f in os.listdir(path) if f.lower().endswith(".png"))
			if not self.names:
				raise Fail("%s: no .png frames" % path)
		elif os.path.isfile(path):
			self.names = None
			video_frames(path, w, h)  # probes the size; decodes nothing
		else:
			raise Fail("%s: no such file or directory" % path)

	def get(self, i):
		if self.last[0] == i:
			return self.last[1]
		if self.names is not None:
			if i >= len(self.names):
				raise Fail("%s: has %d frames, frame %d wanted" % (self.path, len(self.names), i))
			img = load_png(os.path.join(self.path, self.names[i]), self.w, self.h)
		else:
			if self.proc is None or i < self.pos:
				self.close()
				self.proc = subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-i", self.path, "-map", "0:v:0",
					"-vsync", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], stdout=subprocess.PIPE)
				self.pos = -1
			size = self.w * self.h * 3
			img = self.last[1]
			while self.pos < i:
				buf = self.proc.stdout.read(size)
				if len(buf) < size:
					raise Fail("%s: has %d frames, frame %d wanted" % (self.path, self.pos + 1, i))
				img = np.frombuffer(buf, np.uint8).reshape(self.h, self.w, 3)
				self.pos += 1
		self.last = (i, img)
		return img

	def close(self):
		if self.proc is not None:
			self.proc.kill()
			self.proc.stdout.close()
			self.proc.wait()
			self.proc = None


def changed(a, b, tol):
	"""Pixels where a and b (uint8 RGB) differ by more than tol in a channel."""
	d = np.maximum(a, b)
	d -= np.minimum(a, b)
	m = d[:, :, 0] > tol
	m |= d[:, :, 1] > tol
	m |= d[:, :, 2] > tol
	return m


def dilate5(m):
	"""m grown by 2 px in x and y: the 5x5 neighbourhood, by shifted ORs."""
	r = m.copy()
	r[:, 1:] |= m[:, :-1]
	r[:, :-1] |= m[:, 1:]
	r[:, 2:] |= m[:, :-2]
	r[:, :-2] |= m[:, 2:]
	c = r.copy()
	c[1:] |= r[:-1]
	c[:-1] |= r[1:]
	c[2:] |= r[:-2]
	c[:-2] |= r[2:]
	return c


def text_pixels(img, fr, threshold, margin):
	"""The text pixels of the lines of truth frame fr that are not personal
	data: [(line key, text, (x0, y0, x1, y1), mask over the box, count)]
	and the union's bounding box grown by 2 px (None: no text)."""
	h, w = img.shape[:2]
	excl = np.zeros((h, w), bool)
	for b in fr["pii"] + fr.get("decoys", []):
		excl[max(0, b["y"] - margin):b["y"] + b["h"] + margin, max(0, b["x"] - margin):b["x"] + b["w"] + margin] = True
	out = []
	bb = [w, h, 0, 0]
	for l in fr["lines"]:
		x, y, bw, bh = l["x"], l["y"], l["w"], l["h"]
		x0, y0, x1, y1 = max(0, x), max(0, y), min(w, x + bw), min(h, y + bh)
		if x1 <= x0 or y1 <= y0:
			continue
		# background: the median of the 1-px ring around the (tight) ink box
		ring = []
		if y0 > 0:
			ring.append(img[y0 - 1, max(0, x0 - 1):x1 + 1])
		if y1 < h:
			ring.append(img[y1, max(0, x0 - 1):x1 + 1])
		if x0 > 0:
			ring.append(img[y0:y1, x0 - 1])
		if x1 < w:
			ring.append(img[y0:y1, x1])
		box = img[y0:y1, x0:x1]
		ring = np.concatenate(ring) if ring else box.reshape(-1, 3)
		bg = np.sort(ring, axis=0)[len(ring) // 2].astype(np.int16)  # per-channel median
		ink = ~excl[y0:y1, x0:x1]
		diff = None
		for ch in range(3):
			d = np.abs(box[:, :, ch].astype(np.int16) - bg[ch]) > threshold
			diff = d if diff is None else diff | d
		ink &= diff
		n = int(np.count_nonzero(ink))
		if not n:
			continue
		key = l.get("id") or "%s@%d,%d" % (l.get("text", ""), x, y)
		out.append((key, l.get("text", ""), (x0, y0, x1, y1), ink, n))
		bb = [min(bb[0], x0), min(bb[1], y0), max(bb[2], x1), max(bb[3], y1)]
	if not out:
		return out, None
	return out, (max(0, bb[0] - 2), max(0, bb[1] - 2), min(w, bb[2] + 2), min(h, bb[3] + 2))


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
	ap.add_argument("--steady-from", type=float, default=0.5,
		help="steady state: from this share of the scene's frames (after its last change, if it has one) on (default 0.5)")
	ap.add_argument("--list-hidden", type=int, default=10, help="most hidden text lines at steady state listed (default 10)")
	ap.add_argument("--reference",
		help="the input as the redactor read it (video or PNG directory, frame i = truth frame i), for the "
		"hidden-text measure; default: the truth PNGs (a lossy round trip then counts as change)")
	ap.add_argument("--ink-threshold", type=int, default=48,
		help="per-channel difference from a line's background that makes a pixel text (default 48)")
	ap.add_argument("--pii-margin", type=int, default=2,
		help="pixels around personal-data and decoy boxes that are not counted as text (default 2: the 5x5 "
		"neighbourhood of a mask exactly on the box)")
	ap.add_argument("--shown-max", type=float, default=0.05,
		help="a line is shown while at most this share of its text pixels is hidden (default 0.05)")
	a = ap.parse_args(argv)
	if a.tolerance < 0 or a.shrink < 0 or a.pii_margin < 0 or a.ink_threshold < 0 or a.list_hidden < 0:
		ap.error("--tolerance, --shrink, --pii-margin, --ink-threshold and --list-hidden must be >= 0")
	if not 0.0 <= a.steady_from <= 1.0 or not 0.0 <= a.shown_max < 1.0:
		ap.error("--steady-from must be within 0..1 and --shown-max within 0..1 (exclusive)")
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

	def input_frame(fr):
		"""{img, masked, text} of truth frame fr's picture."""
		p = os.path.join(a.truth, fr["file"])
		try:
			with open(p, "rb") as f:
				data = f.read()
		except OSError as e:
			raise Fail("%s: %s" % (p, e))
		key = hashlib.sha256(data).digest()
		if key not in in_cache:
			in_cache.clear()  # consecutive frames share pictures; keep one
			img = load_png(p, w, h)
			in_cache[key] = dict(img=img, masked=masked(img), text={})
		return in_cache[key]

	def input_mask(fr):
		return input_frame(fr)["masked"]

	def text_of(fr):
		"""The text pixels of frame fr (cached with its picture)."""
		e = input_frame(fr)
		tkey = json.dumps([fr["lines"], fr["pii"], fr.get("decoys", [])], sort_keys=True)
		if tkey not in e["text"]:
			e["text"].clear()
			e["text"][tkey] = text_pixels(e["img"], fr, a.ink_threshold, a.pii_margin)
		return e["text"][tkey]

	reference = Reference(a.reference, w, h) if a.reference else None

	def hidden(oi, ii, out):
		"""Text pixels of input frame ii hidden in output frame out:
		(text px, hidden px, [(line key, text, box, text px, hidden px)])."""
		fr = frames[ii]
		lines, bb = text_of(fr)
		if bb is None:
			return 0, 0, []
		ref = reference.get(ii) if reference else input_frame(fr)["img"]
		x0, y0, x1, y1 = bb
		hid = dilate5(changed(out[y0:y1, x0:x1], ref[y0:y1, x0:x1], a.tolerance))
		union = np.zeros(hid.shape, bool)
		res = []
		for key, text, (lx0, ly0, lx1, ly1), ink, n in lines:
			union[ly0 - y0:ly1 - y0, lx0 - x0:lx1 - x0] |= ink
			k = int(np.count_nonzero(ink & hid[ly0 - y0:ly1 - y0, lx0 - x0:lx1 - x0]))
			res.append((key, text, (lx0, ly0, lx1, ly1), n, k))
		return int(np.count_nonzero(union)), int(np.count_nonzero(union & hid)), res

	nf = len(frames)
	changes = [i for i, fr in enumerate(frames) if fr.get("changed")]
	seg0 = changes[-1] if changes else 0
	steady_from = seg0 + int(np.ceil(a.steady_from * (nf - seg0) - 1e-9))
	fps = truth.get("fps") or 1
	readable = {c: dict(frame=c, readable_after_s=None, readable95_after_s=None) for c in changes}
	bounds_of = {c: (changes[k + 1] if k + 1 < len(changes) else nf) for k, c in enumerate(changes)}
	steady = dict(from_frame=steady_from, frames=0, text_px=0, hidden_px=0, frames_fully_masked=0,
		line_frames=0, line_frames_hidden=0)
	per_line = {}
	# scrolling: how long a line that came fully into view at steady state
	# took to be shown (lines with an "id" that stays the same across frames)
	full_h = {}
	for fr in frames:
		for ln in fr["lines"]:
			if "id" in ln:
				full_h[ln["id"]] = max(full_h.get(ln["id"], 0), ln["h"])
	first_full = {}
	for ii, fr in enumerate(frames):
		for ln in fr["lines"]:
			if "id" in ln and ln["h"] >= full_h[ln["id"]] and ln["id"] not in first_full:
				first_full[ln["id"]] = ii
	entering = {k: v for k, v in first_full.items() if v > steady_from}
	entered_shown = {}
	entering_text = set()  # entering lines with text that is not personal data
	last_ii = -1  # the last input frame an output frame showed

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
			rec = dict(frame=oi, input_frame=ii, leaks=frame_leaks, overmask_frame=round(of, 6),
				overmask_text=round(ot, 6), fully_masked=bool(full))
			# not personal text hidden: at steady state, and after a change
			# until it is readable
			is_steady = ii >= steady_from
			chg = None
			for c in changes:
				if c <= ii < bounds_of[c]:
					chg = readable[c]
			want = is_steady or (chg is not None and chg["readable_after_s"] is None) or pf is not None
			if want:
				tpx, hpx, res = hidden(oi, ii, out)
				all_shown = all(k <= a.shown_max * n for _, _, _, n, k in res)
				rec.update(text_px=tpx, hidden_px=hpx, hidden_fraction=round(hpx / tpx, 6) if tpx else None,
					lines_shown=all_shown, steady=is_steady)
				if chg is not None:
					t = round((ii - chg["frame"]) / fps, 4)
					if chg["readable_after_s"] is None and all_shown:
						chg["readable_after_s"] = t
					if chg["readable95_after_s"] is None and hpx <= a.shown_max * tpx:
						chg["readable95_after_s"] = t
				if entering:
					last_ii = max(last_ii, ii)
					for key, text, box, n, k in res:
						if key in entering and n > 0:
							entering_text.add(key)
						if key in entering and n > 0 and ii >= entering[key] and key not in entered_shown and \
							k <= a.shown_max * n:
							entered_shown[key] = ii
				if is_steady:
					steady["frames"] += 1
					steady["text_px"] += tpx
					steady["hidden_px"] += hpx
					steady["frames_fully_masked"] += int(full)
					for key, text, box, n, k in res:
						e = per_line.setdefault(key, dict(text=text, text_px=0, hidden_px=0, frames=0, frames_hidden=0))
						e["text_px"] += n
						e["hidden_px"] += k
						e["frames"] += 1
						e["frames_hidden"] += int(k > a.shown_max * n)
						e["box"] = box
						steady["line_frames"] += 1
						steady["line_frames_hidden"] += int(k > a.shown_max * n)
			if pf:
				pf.write(json.dumps(rec) + "\n")
	finally:
		if pf:
			pf.close()
		if reference:
			reference.close()
	if nout is not None and s["frames_output"] != nout:
		raise Fail("%s: read %d of %d frames" % (a.output, s["frames_output"], nout))
	if s["frames_checked"] == 0:
		raise Fail("%s: no output frame maps to an input frame" % a.output)
	s["frames_unshown"] = len(frames) - len(shown)
	s["overmask_frame"] = stats(over_frame)
	s["overmask_text"] = stats(over_text)
	s["fully_masked_fraction"] = round(s["frames_fully_masked"] / s["frames_checked"], 6)
	steady["hidden_fraction"] = round(steady["hidden_px"] / steady["text_px"], 6) if steady["text_px"] else None
	steady["lines_hidden_fraction"] = (round(steady["line_frames_hidden"] / steady["line_frames"], 6)
		if steady["line_frames"] else None)
	s["steady"] = steady
	worst = sorted((e for e in per_line.values() if e["hidden_px"]),
		key=lambda e: (-e["hidden_px"] / e["text_px"], -e["text_px"], e["text"]))
	s["steady_lines_hidden"] = [dict(text=e["text"], hidden_fraction=round(e["hidden_px"] / e["text_px"], 4),
		text_px=e["text_px"], hidden_px=e["hidden_px"], frames=e["frames"], frames_hidden=e["frames_hidden"],
		x=e["box"][0], y=e["box"][1], w=e["box"][2] - e["box"][0], h=e["box"][3] - e["box"][1])
		for e in worst[:a.list_hidden]]
	s["full_change"] = dict(frames=s["frames_fully_masked"], fraction=s["fully_masked_fraction"],
		steady_frames=steady["frames_fully_masked"])
	if entering:
		delays = sorted((entered_shown[k] - entering[k]) / fps for k in entering_text if k in entered_shown)
		# a line that came into view less than a second before the output
		# ended was not seen for long enough to say it was never read
		late = sum(1 for k in entering_text if k not in entered_shown and last_ii - entering[k] < fps)
		never = len(entering_text) - len(delays) - late
		q = lambda f: round(delays[min(len(delays) - 1, int(f * len(delays)))], 4) if delays else None
		s["entering_lines"] = dict(lines=len(entering_text), shown=len(delays), never=never, late=late, p50_s=q(0.5), p95_s=q(0.95),
			max_s=round(delays[-1], 4) if delays else None)
	s["changes"] = [readable[c] for c in changes]
	s["readable_after_s"] = readable[changes[-1]]["readable_after_s"] if changes else None
	s["readable95_after_s"] = readable[changes[-1]]["readable95_after_s"] if changes else None
	return s, s["leaks"]


if __name__ == "__main__":
	sys.exit(main())
