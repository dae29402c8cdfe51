#!/usr/bin/python3
"""Self-test of the redaction corpus: the generator's frames and ground
truth (boxes inside the frame and on ink, check digits of the synthetic
values, determinism) and the checker (it finds every box of unredacted
frames, none of frames masked on the truth, every box of masks 2 px too
small, over-masking, video input, frame maps, bad input).

Usage: /usr/bin/python3 tests/test_corpus.py [NAME_FILTER]
(needs Debian's python3-pil and python3-numpy; ffmpeg for the video test)"""
import json
import os
import shutil
import string
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "corpus"))
from tap import Suite, SkipTest  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

import synth  # noqa: E402

GEN = os.path.join(HERE, "corpus", "gen_corpus.py")
CHECK = os.path.join(HERE, "corpus", "check_redaction.py")
FRAMES = {"form": 3, "table": 3, "email": 3, "scroll": 6, "typing": 8, "fullchange": 3}

suite = Suite()
tmp = tempfile.mkdtemp(prefix="lockstep-corpus-")
corpus = os.path.join(tmp, "corpus")
generated = set()


def gen(names, out=None, seed=7, extra=()):
	out = out or corpus
	for n in names:
		if out == corpus and n in generated:
			continue
		subprocess.run([sys.executable, GEN, "--out", out, "--seed", str(seed), "--frames", str(FRAMES[n]),
			"--scenario", n] + list(extra), check=True, stdout=subprocess.DEVNULL)
		if out == corpus:
			generated.add(n)
	return out


def truth(name):
	with open(os.path.join(corpus, name, "truth.json")) as f:
		return json.load(f)


def check(name, output, *args):
	"""Runs the checker; returns (exit status, summary or None, stderr)."""
	r = subprocess.run([sys.executable, CHECK, os.path.join(corpus, name), output] + list(args),
		capture_output=True, text=True)
	return r.returncode, (json.loads(r.stdout) if r.stdout.strip() else None), r.stderr


def paint(name, out, shrink=0, key="pii"):
	"""Copies the scenario's frames to out with the key boxes (shrunk by
	shrink px each side) painted black."""
	os.makedirs(out, exist_ok=True)
	for fr in truth(name)["frames"]:
		im = Image.open(os.path.join(corpus, name, fr["file"])).convert("RGB")
		d = ImageDraw.Draw(im)
		for b in fr[key]:
			x0, y0 = b["x"] + shrink, b["y"] + shrink
			x1, y1 = b["x"] + b["w"] - shrink, b["y"] + b["h"] - shrink
			if x1 > x0 and y1 > y0:
				d.rectangle([x0, y0, x1 - 1, y1 - 1], fill=(0, 0, 0))
		im.save(os.path.join(out, fr["file"]), compress_level=1)
	return out


def total_boxes(name, shrink=1):
	"""Personal-data boxes the checker can check: larger than the shrink
	on both sides (a box scrolled almost out of view may not be)."""
	return sum(1 for fr in truth(name)["frames"] for b in fr["pii"] if b["w"] > 2 * shrink and b["h"] > 2 * shrink)


@suite.test
def generates_all_scenarios():
	gen(FRAMES)
	for n, count in FRAMES.items():
		t = truth(n)
		assert t["version"] == 1 and t["scenario"] == n, t.keys()
		assert t["width"] == 1920 and t["height"] == 1080
		assert t["fps"] in (10, 15, 30), t["fps"]
		assert len(t["frames"]) == count
		pngs = sorted(f for f in os.listdir(os.path.join(corpus, n)) if f.endswith(".png"))
		assert pngs == [fr["file"] for fr in t["frames"]], (n, pngs)
		with Image.open(os.path.join(corpus, n, pngs[0])) as im:
			assert im.size == (1920, 1080) and im.mode == "RGB", (im.size, im.mode)
		assert sum(len(fr["pii"]) for fr in t["frames"]) > 0, n


@suite.test
def boxes_inside_frame_and_on_ink():
	gen(FRAMES)
	kinds = set()
	for n in FRAMES:
		t = truth(n)
		for fr in t["frames"]:
			img = np.asarray(Image.open(os.path.join(corpus, n, fr["file"])).convert("RGB"))
			for key in ("pii", "decoys", "lines"):
				for b in fr[key]:
					assert b["w"] > 0 and b["h"] > 0, (n, fr["index"], b)
					assert 0 <= b["x"] and b["x"] + b["w"] <= 1920 and 0 <= b["y"] and b["y"] + b["h"] <= 1080, (n, b)
					# a box on drawn text holds more than one colour
					region = img[b["y"]:b["y"] + b["h"], b["x"]:b["x"] + b["w"]].reshape(-1, 3)
					assert (region != region[0]).any(), (n, fr["index"], key, b)
			for b in fr["pii"]:
				kinds.add(b["kind"])
				assert b["text"].strip(), b
				# each value lies on one of the text lines, which the checker
				# uses for the over-masking ratio
				assert any(l["x"] <= b["x"] and l["y"] <= b["y"] and b["x"] + b["w"] <= l["x"] + l["w"]
					and b["y"] + b["h"] <= l["y"] + l["h"] for l in fr["lines"]), (n, b)
	want = {"iban", "card", "email", "phone", "steuer-id", "ausweis", "street", "plz-city", "name", "customer-no"}
	assert want <= kinds, want - kinds


@suite.test
def ink_boxes_are_tight():
	"""Painting outside a value's box with the background leaves the
	value's pixels: the ink box is exact, not the label's or the line's."""
	gen(["form"])
	fr = truth("form")["frames"][0]
	img = np.asarray(Image.open(os.path.join(corpus, "form", fr["file"])).convert("RGB"))
	for b in fr["pii"]:
		region = img[b["y"] - 1:b["y"] + b["h"] + 1, b["x"] - 1:b["x"] + b["w"] + 1]
		border = np.concatenate([region[0], region[-1], region[:, 0], region[:, -1]])
		# the ring one pixel outside the box is plain background
		assert (border == border[0]).all(), (b, np.unique(border.reshape(-1, 3), axis=0)[:4])
		inner = img[b["y"]:b["y"] + b["h"], b["x"]:b["x"] + b["w"]]
		# and the box's own edges each touch ink
		bg = border[0]
		for edge in (inner[0], inner[-1], inner[:, 0], inner[:, -1]):
			assert (edge != bg).any(axis=-1).any(), b


def digit_mutations(s):
	for i, c in enumerate(s):
		if c.isdigit():
			for d in string.digits:
				if d != c:
					yield s[:i] + d + s[i + 1:]


@suite.test
def checksums_of_synthetic_values():
	gen(FRAMES)
	# published examples, as a check of the validators themselves
	assert synth.iban_valid("DE89 3704 0044 0532 0130 00")
	assert synth.iban_valid("GB82 WEST 1234 5698 7654 32")
	assert not synth.iban_valid("DE88 3704 0044 0532 0130 00")
	assert synth.luhn_valid("4111 1111 1111 1111") and not synth.luhn_valid("4111 1111 1111 1112")
	assert synth.card_issuer("2221 0000 0000 0009") == "mastercard" and synth.card_issuer("2721 0000 0000 0000") is None
	assert synth.steuer_id_valid("86095742719") and not synth.steuer_id_valid("86095742718")
	assert not synth.steuer_id_valid("11195742719")  # digit rule: no digit three times in a row
	assert synth.ausweis_valid("T220001293") and not synth.ausweis_valid("T220001294")
	seen = {}
	for n in FRAMES:
		for fr in truth(n)["frames"]:
			for b in fr["pii"]:
				if not b["complete"]:
					continue
				k, v = b["kind"], b["text"]
				seen[k] = seen.get(k, 0) + 1
				if k == "iban":
					assert synth.iban_valid(v), v
					assert not any(synth.iban_valid(m) for m in digit_mutations(v)), v
				elif k == "card":
					assert synth.luhn_valid(v) and synth.card_issuer(v), v
					assert not any(synth.luhn_valid(m) for m in digit_mutations(v)), v
				elif k == "steuer-id":
					assert synth.steuer_id_valid(v), v
					assert not any(synth.steuer_id_valid(m) for m in digit_mutations(v)), v
				elif k == "ausweis":
					assert synth.ausweis_valid(v), v
					assert not any(synth.ausweis_valid(m) for m in digit_mutations(v)), v
			for b in fr["decoys"]:
				assert b["kind"] == "card" and not synth.luhn_valid(b["text"]) and synth.card_issuer(b["text"]), b
	for k in ("iban", "card", "steuer-id", "ausweis"):
		assert seen.get(k, 0) > 0, (k, seen)


@suite.test
def deterministic_from_seed():
	gen(["typing"])
	other = gen(["typing"], out=os.path.join(tmp, "again"))
	for f in ("truth.json", "00000.png", "00007.png"):
		with open(os.path.join(corpus, "typing", f), "rb") as a, open(os.path.join(other, "typing", f), "rb") as b:
			assert a.read() == b.read(), f
	gen(["typing"], out=os.path.join(tmp, "seed8"), seed=8)
	with open(os.path.join(corpus, "typing", "truth.json")) as a, open(os.path.join(tmp, "seed8", "typing", "truth.json")) as b:
		assert a.read() != b.read()


@suite.test
def typing_grows_and_scroll_shifts():
	gen(["typing", "scroll"])
	t = truth("typing")["frames"]
	typed = [sum(len(b["text"]) for b in fr["pii"] if not b["complete"]) for fr in t]
	assert any(typed) and typed != sorted(typed, reverse=True), typed
	s = truth("scroll")["frames"]
	ys = [fr["scroll_y"] for fr in s]
	steps = [b - a for a, b in zip(ys, ys[1:])]
	assert ys[0] == 0 and all(3 <= d <= 8 for d in steps), ys
	# the pixels of the document move by exactly the scroll step
	a = np.asarray(Image.open(os.path.join(corpus, "scroll", s[1]["file"])).convert("RGB")).astype(int)
	b = np.asarray(Image.open(os.path.join(corpus, "scroll", s[2]["file"])).convert("RGB")).astype(int)
	d = steps[1]
	assert (a[200 + d:900, 300:1500] == b[200:900 - d, 300:1500]).all()


@suite.test
def checker_finds_every_box_unredacted():
	gen(FRAMES)
	for n in ("form", "scroll", "typing"):
		rc, s, err = check(n, os.path.join(corpus, n))
		assert rc == 1, (rc, err)
		assert s["leaks"] == s["pii_boxes_checked"] == total_boxes(n), (n, s["leaks"], total_boxes(n))
		assert s["frames_checked"] == FRAMES[n] and s["overmask_frame"]["max"] == 0.0


@suite.test
def checker_passes_masked_truth():
	gen(FRAMES)
	for n in ("form", "scroll", "typing", "email"):
		out = paint(n, os.path.join(tmp, "masked", n))
		rc, s, err = check(n, out)
		assert rc == 0 and s["leaks"] == 0, (n, rc, err, s and s["leak_list"][:2])
		assert s["pii_boxes_checked"] == total_boxes(n)
		assert s["overmask_frame"]["max"] == 0.0 and s["frames_fully_masked"] == 0, s


@suite.test
def checker_catches_masks_2px_short():
	gen(FRAMES)
	for n in ("form", "scroll"):
		out = paint(n, os.path.join(tmp, "short", n), shrink=2)
		rc, s, err = check(n, out)
		assert rc == 1 and s["leaks"] == s["pii_boxes_checked"] == total_boxes(n), (n, rc, s and s["leaks"])
		assert all(l["unmasked_fraction"] < 1.0 for l in s["leak_list"])


@suite.test
def checker_measures_overmasking():
	gen(["table"])
	out = paint("table", os.path.join(tmp, "lines", "table"), key="lines")
	rc, s, err = check("table", out)
	assert rc == 0 and s["leaks"] == 0, (rc, err)
	# expected: pixels of the text lines outside the personal-data boxes
	# that were not already black in the input
	fr = truth("table")["frames"][0]
	img = np.asarray(Image.open(os.path.join(corpus, "table", fr["file"])).convert("RGB"))
	lines = np.zeros((1080, 1920), bool)
	pii = np.zeros((1080, 1920), bool)
	for b in fr["lines"]:
		lines[b["y"]:b["y"] + b["h"], b["x"]:b["x"] + b["w"]] = True
	for b in fr["pii"]:
		pii[b["y"]:b["y"] + b["h"], b["x"]:b["x"] + b["w"]] = True
	black = (img <= 24).all(axis=2)
	want = np.count_nonzero(lines & ~pii & ~black)
	got = s["overmask_text"]["p50"] * np.count_nonzero(lines)
	assert abs(got - want) <= 2, (got, want)
	assert abs(s["overmask_frame"]["p50"] - want / (1920 * 1080)) < 1e-5, s["overmask_frame"]
	assert s["decoys_checked"] == sum(len(f["decoys"]) for f in truth("table")["frames"]) == s["decoys_masked"]


@suite.test
def checker_reads_video():
	if not shutil.which("ffmpeg"):
		raise SkipTest("no ffmpeg")
	vdir = gen(["form"], out=os.path.join(tmp, "video"), extra=["--video"])
	rc, s, err = check("form", os.path.join(vdir, "form.mkv"))
	assert rc == 1 and s["leaks"] == total_boxes("form") and s["frames_checked"] == FRAMES["form"], (rc, err)
	# masks survive a lossy YUV 4:2:0 round trip within the default tolerance
	masked = paint("form", os.path.join(tmp, "vmask"))
	mp4 = os.path.join(tmp, "masked.mp4")
	subprocess.run(["ffmpeg", "-nostdin", "-y", "-v", "error", "-framerate", "10", "-i", os.path.join(masked, "%05d.png"),
		"-c:v", "libx264", "-crf", "23", "-pix_fmt", "yuv420p", mp4], check=True)
	rc, s, err = check("form", mp4)
	assert rc == 0 and s["leaks"] == 0 and s["frames_checked"] == FRAMES["form"], (rc, err, s and s["leak_list"][:2])


@suite.test
def checker_frame_map():
	gen(["scroll"])
	masked = paint("scroll", os.path.join(tmp, "map", "scroll"))
	m = os.path.join(tmp, "map.json")
	with open(m, "w") as f:  # shifted by one frame: the masks miss the scrolled text
		json.dump([None] + list(range(FRAMES["scroll"] - 1)), f)
	rc, s, err = check("scroll", masked, "--map", m)
	assert rc == 1 and s["frames_unmapped"] == 1 and s["leaks"] > 0, (rc, err)
	with open(m, "w") as f:
		json.dump(list(range(FRAMES["scroll"])), f)
	rc, s, err = check("scroll", masked, "--map", m, "--require-all")
	assert rc == 0 and s["frames_unshown"] == 0, (rc, err)
	# every output frame repeats input frame 0: no leak, but input frames
	# that no output frame showed fail --require-all
	frozen = os.path.join(tmp, "frozen")
	os.makedirs(frozen, exist_ok=True)
	for i in range(FRAMES["scroll"]):
		shutil.copyfile(os.path.join(masked, "00000.png"), os.path.join(frozen, "%05d.png" % i))
	with open(m, "w") as f:
		json.dump([0] * FRAMES["scroll"], f)
	rc, s, err = check("scroll", frozen, "--map", m)
	assert rc == 0 and s["leaks"] == 0 and s["frames_unshown"] == FRAMES["scroll"] - 1, (rc, err)
	rc, s, err = check("scroll", frozen, "--map", m, "--require-all")
	assert rc == 1 and s["leaks"] == 0, (rc, err)


@suite.test
def checker_rejects_bad_input():
	gen(["form"])
	bad = os.path.join(tmp, "bad")
	os.makedirs(bad, exist_ok=True)
	Image.new("RGB", (640, 480)).save(os.path.join(bad, "00000.png"))
	rc, s, err = check("form", bad)
	assert rc == 2 and s is None and "640x480" in err and len(err.strip().splitlines()) == 1, (rc, err)
	rc, s, err = check("form", os.path.join(tmp, "missing"))
	assert rc == 2 and "no such file" in err, err
	m = os.path.join(tmp, "badmap.json")
	with open(m, "w") as f:
		json.dump([0, 99], f)
	rc, s, err = check("form", os.path.join(corpus, "form"), "--map", m)
	assert rc == 2 and "badmap.json" in err, err


if __name__ == "__main__":
	try:
		rc = suite.run(sys.argv[1] if len(sys.argv) > 1 else "")
	finally:
		shutil.rmtree(tmp, ignore_errors=True)
	sys.exit(rc)
