#!/usr/bin/python3
"""Self-test of the redaction corpus: the generator's frames and ground
truth (boxes inside the frame and on ink, check digits of the synthetic
values, determinism) and the checker (it finds every box of unredacted
frames, none of frames masked on the truth, every box of masks 2 px too
small, over-masking, video input, frame maps, bad input).  The
case-work scenes (casefile, ledger, formtype, newform, newtable): labels
and values, columns that line up, a constant pixel-exact scroll, the
change marker; and the hidden-text measure (steady, readable_after_s) on
made-up outputs: unchanged, boxes in the text's own colour, masks on the
personal data only, black frames, masks that go at a known frame.

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
FRAMES = {"form": 3, "table": 3, "email": 3, "scroll": 6, "typing": 8, "fullchange": 3,
	"casefile": 2, "ledger": 6, "formtype": 12, "newform": 10, "newtable": 10}
AGENT = ["casefile", "ledger", "formtype", "newform", "newtable"]

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


def truth(name, d=None):
	with open(os.path.join(d or corpus, name, "truth.json")) as f:
		return json.load(f)


def load(name, fr, d=None):
	with Image.open(os.path.join(d or corpus, name, fr["file"])) as im:
		return np.asarray(im.convert("RGB"))


def inside(b, l):
	return l["x"] <= b["x"] and l["y"] <= b["y"] and b["x"] + b["w"] <= l["x"] + l["w"] and b["y"] + b["h"] <= l["y"] + l["h"]


def overlaps(b, l):
	return b["x"] < l["x"] + l["w"] and l["x"] < b["x"] + b["w"] and b["y"] < l["y"] + l["h"] and l["y"] < b["y"] + b["h"]


def write_frames(out, frames):
	"""Writes the arrays as OUT/00000.png ...; returns out."""
	os.makedirs(out, exist_ok=True)
	for i, a in enumerate(frames):
		Image.fromarray(a).save(os.path.join(out, "%05d.png" % i), compress_level=1)
	return out


def check(name, output, *args, d=None):
	"""Runs the checker; returns (exit status, summary or None, stderr)."""
	r = subprocess.run([sys.executable, CHECK, os.path.join(d or corpus, name), output] + list(args),
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


# ---------------------------------------------------------------- case-work scenes


@suite.test
def case_scenes_truth():
	gen(AGENT)
	for n in AGENT:
		t = truth(n)
		assert t["fps"] == 15 and len(t["frames"]) == FRAMES[n], (n, t["fps"])
		for fr in t["frames"]:
			assert fr["style"]["lang"] == "de", (n, fr["style"])  # German unless --lang says otherwise
			ids = [l["id"] for l in fr["lines"]]
			assert len(ids) == len(set(ids)), (n, fr["index"])
			for b in fr["pii"]:
				assert any(inside(b, l) for l in fr["lines"]), (n, b)
	fr = truth("casefile")["frames"][0]
	texts = [l["text"] for l in fr["lines"]]
	assert any(x.startswith("Vorgang ") and x.endswith(" – Kundenakte") for x in texts), texts[:5]
	for label in ("Tarif:", "Status:", "PLZ / Ort:", "Titel:", "Firma:", "Notizen", "Speichern"):
		assert label in texts, label
	# labels are never personal data
	for l in fr["lines"]:
		if l["text"].endswith(":"):
			assert not any(overlaps(b, l) for b in fr["pii"]), l
	kinds = {b["kind"] for b in fr["pii"]}
	assert {"name", "iban", "street", "plz-city", "phone", "birthdate", "customer-no", "email"} <= kinds, kinds
	# a value that is not personal: the tariff
	tariffs = {d for d, e in synth.TARIFFS}
	assert any(x in tariffs for x in texts) and not any(b["text"] in tariffs for b in fr["pii"])
	# notes: plain sentences, and sentences with personal data inline
	import gen_corpus
	plain = {d for d, e in gen_corpus.NOTES_PLAIN}
	notes = [l for l in fr["lines"] if l["text"][:2].isdigit() and "  " in l["text"]]
	assert any(l["text"].split("  ", 1)[1] in plain for l in notes), [l["text"] for l in notes]
	mixed = [l for l in notes if any(inside(b, l) for b in fr["pii"])]
	assert mixed and all(any(inside(b, l) and b["w"] < l["w"] for b in fr["pii"]) for l in mixed), mixed
	# --lang en: the same scene in English
	d = gen(["casefile"], out=os.path.join(tmp, "en"), extra=["--lang", "en"])
	fr = truth("casefile", d)["frames"][0]
	assert fr["style"]["lang"] == "en" and "Tariff:" in [l["text"] for l in fr["lines"]]


@suite.test
def ledger_columns_line_up_and_scroll():
	gen(["ledger"])
	frames = truth("ledger")["frames"]
	for fr in frames:
		cols, vp, hd = fr["columns"], fr["viewport"], fr["header"]
		assert len(cols) >= 4 and cols[0]["header"] == "#" and cols[0]["align"] == "right", cols
		assert any(c["align"] == "right" and c["key"] == "balance" for c in cols), cols
		for c, d in zip(cols, cols[1:]):
			assert c["x"] + c["w"] == d["x"], (c, d)  # adjacent columns
		nbody = 0
		for l in fr["lines"]:
			head = hd["y"] <= l["y"] and l["y"] + l["h"] <= hd["y"] + hd["h"]
			body = vp["y"] <= l["y"] and l["y"] + l["h"] <= vp["y"] + vp["h"] and l["x"] >= vp["x"]
			if not (head or body) or l["x"] < cols[0]["x"]:
				continue
			col = [c for c in cols if c["x"] <= l["x"] and l["x"] + l["w"] <= c["x"] + c["w"]]
			assert len(col) == 1, (l, cols)
			c = col[0]
			# the ink starts at the padding (left) or ends there (right); the
			# glyphs' side bearings are a pixel or two either way
			if c["align"] == "left":
				assert abs(l["x"] - (c["x"] + c["pad"])) <= 3, (l, c)
			else:
				assert abs((c["x"] + c["w"] - c["pad"]) - (l["x"] + l["w"])) <= 3, (l, c)
			if head:
				assert l["text"] == c["header"], (l, c)
			else:
				nbody += 1
		assert nbody >= 2 * len(cols), nbody
		for b in fr["pii"]:
			assert b["kind"] in ("customer-no", "name", "iban", "plz-city"), b
	# a constant scroll of 5..10 px per frame, pixel-exact, rows coming in at the bottom
	ys = [fr["scroll_y"] for fr in frames]
	step = frames[0]["scroll_step"]
	assert 5 <= step <= 10 and ys == [i * step for i in range(len(frames))], (ys, step)
	vp = frames[0]["viewport"]
	a, b = load("ledger", frames[2]), load("ledger", frames[3])
	va = a[vp["y"]:vp["y"] + vp["h"], vp["x"]:vp["x"] + vp["w"]]
	vb = b[vp["y"]:vp["y"] + vp["h"], vp["x"]:vp["x"] + vp["w"]]
	assert (va[step:] == vb[:-step]).all() and (va != vb).any()
	# the same row keeps its id and moves up by the step
	ra = {l["id"]: l for l in frames[2]["lines"] if l["id"].startswith("r") and l.get("visible") == 1.0}
	rb = {l["id"]: l for l in frames[3]["lines"] if l["id"].startswith("r") and l.get("visible") == 1.0}
	common = set(ra) & set(rb)
	assert len(common) > 10 and all(ra[k]["y"] - rb[k]["y"] == step and ra[k]["text"] == rb[k]["text"] for k in common)


@suite.test
def formtype_types_into_the_form():
	gen(["formtype"])
	frames = truth("formtype")["frames"]
	typed = [fr["typed"] for fr in frames]
	assert typed == sorted(typed) and typed[0] == 0 and typed[-1] > typed[len(typed) // 2] > 0, typed
	last = frames[-1]
	ids = {l["id"]: l for l in last["lines"]}
	for k in ("typed:last", "typed:first", "typed:iban", "typed:tariff", "typed:note"):
		assert k in ids, (k, sorted(ids)[-6:])
	# the typed tariff and note are not personal; the typed name and IBAN are
	for k in ("typed:tariff", "typed:note"):
		assert not any(overlaps(b, ids[k]) for b in last["pii"]), k
	assert any(b["kind"] == "iban" and b["complete"] and inside(b, ids["typed:iban"]) for b in last["pii"])
	assert any(not b["complete"] for fr in frames for b in fr["pii"])


@suite.test
def new_screens_change_once():
	gen(["newform", "newtable"])
	for n in ("newform", "newtable"):
		frames = truth(n)["frames"]
		changed = [fr["index"] for fr in frames if fr.get("changed")]
		assert changed == [len(frames) // 5], changed
		c = changed[0]
		assert all(fr["screen"] == ("before" if fr["index"] < c else "after") for fr in frames)
		assert frames[0]["style"]["theme"] != frames[c]["style"]["theme"]
		# the picture changes entirely at c and then stays
		a, b, z = load(n, frames[c - 1]), load(n, frames[c]), load(n, frames[-1])
		assert (a != b).any(axis=2).mean() > 0.9 and (b == z).all()
	after = truth("newtable")["frames"][-1]
	cols, hd = after["columns"], after["header"]
	assert len(cols) == 5
	cells = [l for l in after["lines"] if hd["y"] + hd["h"] <= l["y"] and l["y"] + l["h"] <= hd["y"] + 41 * after["row_h"]
		and cols[0]["x"] <= l["x"] and l["x"] + l["w"] <= cols[-1]["x"] + cols[-1]["w"]]
	assert len(cells) == 200, len(cells)
	assert len(truth("newform")["frames"][-1]["lines"]) >= 40


# ---------------------------------------------------------------- hidden text


def text_colour_boxes(img, fr):
	"""img with every text line's box filled with the colour of its line's
	strongest ink (the text colour): the text's own pixels keep their
	value, what lies between them does not.  Also returns the mask of the
	strong ink (over 100 from the background in a channel)."""
	out = img.copy()
	strong = np.zeros(img.shape[:2], bool)
	for l in fr["lines"]:
		sl = (slice(l["y"], l["y"] + l["h"]), slice(l["x"], l["x"] + l["w"]))
		box = img[sl].astype(int)
		ring = np.concatenate([img[l["y"] - 1, l["x"]:l["x"] + l["w"]], img[l["y"] + l["h"], l["x"]:l["x"] + l["w"]]]).astype(int)
		d = np.abs(box - np.median(ring, axis=0))
		strong[sl] = d.max(axis=2) > 100
		out[sl] = box.reshape(-1, 3)[d.sum(axis=2).argmax()]
	return out, strong


@suite.test
def steady_measures_hidden_text():
	gen(["casefile", "ledger"])
	# unchanged output: nothing hidden
	rc, s, err = check("casefile", os.path.join(corpus, "casefile"))
	st = s["steady"]
	assert st["frames"] == FRAMES["casefile"] // 2 and st["from_frame"] == 1, st
	assert st["text_px"] > 10000 and st["hidden_px"] == 0 and st["hidden_fraction"] == 0.0, st
	assert s["steady_lines_hidden"] == [] and s["full_change"]["frames"] == 0 and s["readable_after_s"] is None
	# a box in the text's own colour over each line hides it, though the
	# text's own pixels keep their value
	fr = truth("casefile")["frames"][0]
	img = load("casefile", fr)
	boxed, strong = text_colour_boxes(img, fr)
	out = write_frames(os.path.join(tmp, "colourbox"), [boxed] * FRAMES["casefile"])
	rc, s, err = check("casefile", out, "--list-hidden", "3")
	assert rc == 1 and s["leaks"] == s["pii_boxes_checked"], (rc, err)  # not masked: in the text colour
	assert s["steady"]["hidden_fraction"] > 0.99, s["steady"]
	assert len(s["steady_lines_hidden"]) == 3 and s["steady_lines_hidden"][0]["hidden_fraction"] == 1.0
	# most of the text's own pixels stay within the tolerance: a test of
	# the text pixel alone would call them shown
	same = (np.abs(img.astype(int) - boxed.astype(int)) <= 24).all(axis=2)
	assert np.count_nonzero(same & strong) > 0.25 * np.count_nonzero(strong), "the boxes keep the text's own pixels"
	# masks on the personal data alone (exactly its boxes): nothing else hidden
	for n in ("casefile", "ledger"):
		out = paint(n, os.path.join(tmp, "piionly", n))
		rc, s, err = check(n, out)
		assert rc == 0 and s["leaks"] == 0, (n, rc, err)
		assert s["steady"]["frames"] > 0 and s["steady"]["hidden_px"] == 0, (n, s["steady"], s["steady_lines_hidden"][:3])
	# masks 16 px wider than the personal values hide the words next to them
	out = os.path.join(tmp, "pad16")
	os.makedirs(out, exist_ok=True)
	for fr in truth("casefile")["frames"]:
		a = load("casefile", fr).copy()
		for b in fr["pii"]:
			a[b["y"] - 1:b["y"] + b["h"] + 1, b["x"] - 16:b["x"] + b["w"] + 16] = 0
		Image.fromarray(a).save(os.path.join(out, fr["file"]), compress_level=1)
	rc, s, err = check("casefile", out)
	assert rc == 0 and 0 < s["steady"]["hidden_fraction"] < 0.05, s["steady"]


@suite.test
def full_black_frames_are_full_change():
	gen(["casefile"])
	black = np.zeros((1080, 1920, 3), np.uint8)
	out = write_frames(os.path.join(tmp, "black"), [black] * FRAMES["casefile"])
	rc, s, err = check("casefile", out)
	assert rc == 0 and s["leaks"] == 0, (rc, err)
	fc = s["full_change"]
	assert fc["frames"] == FRAMES["casefile"] and fc["steady_frames"] == s["steady"]["frames"] > 0, fc
	assert s["steady"]["hidden_fraction"] == 1.0 and s["steady"]["lines_hidden_fraction"] == 1.0, s["steady"]


@suite.test
def readable_after_change():
	gen(["newform"])
	t = truth("newform")
	frames, fps = t["frames"], t["fps"]
	n, c = len(frames), len(frames) // 5
	imgs = [load("newform", fr) for fr in frames]
	black = np.zeros_like(imgs[0])
	# one line of the new screen masked: under 5 % of the text hidden, but
	# not every line shown
	partly = imgs[-1].copy()
	title = next(l for l in frames[-1]["lines"] if l["text"].endswith("Kundenakte"))
	partly[title["y"] - 2:title["y"] + title["h"] + 2, title["x"] - 2:title["x"] + title["w"] + 2] = 0
	# frames c and c+1 black, c+2 partly masked, from c+3 on unmasked
	seq = [imgs[i] if i < c or i >= c + 3 else (black if i < c + 2 else partly) for i in range(n)]
	rc, s, err = check("newform", write_frames(os.path.join(tmp, "readable"), seq))
	assert rc == 1, err  # the personal data is not masked here
	assert s["changes"] == [dict(frame=c, readable_after_s=round(3 / fps, 4), readable95_after_s=round(2 / fps, 4))], s["changes"]
	assert s["readable_after_s"] == round(3 / fps, 4) and s["readable95_after_s"] == round(2 / fps, 4)
	assert s["full_change"]["frames"] == 2 and s["steady"]["hidden_px"] == 0
	assert s["steady"]["from_frame"] == c + (n - c + 1) // 2, s["steady"]
	# dropped frames: the time is that of the input frame each output frame shows
	index = [0, c - 1, c, c + 2, c + 4, n - 1]
	m = os.path.join(tmp, "readable-map.json")
	with open(m, "w") as f:
		json.dump(index, f)
	out = write_frames(os.path.join(tmp, "readable-dropped"), [seq[0], seq[c - 1], black, partly, imgs[c + 4], imgs[n - 1]])
	rc, s, err = check("newform", out, "--map", m)
	assert rc == 1, err
	assert s["readable_after_s"] == round(4 / fps, 4) and s["readable95_after_s"] == round(2 / fps, 4), s["changes"]
	# never readable: null
	rc, s, err = check("newform", write_frames(os.path.join(tmp, "never"), imgs[:c] + [black] * (n - c)))
	assert s["readable_after_s"] is None and s["readable95_after_s"] is None, s["changes"]


@suite.test
def entering_lines_in_scroll():
	"""Lines scrolling into view: the delay until each is shown; one that came
	into view less than a second before the output ended is late, not never."""
	d = gen(["ledger"], out=os.path.join(tmp, "ledger3s"), extra=("--frames", "45"))
	t = truth("ledger", d)
	frames, fps = t["frames"], t["fps"]
	n = len(frames)
	imgs = [load("ledger", fr, d) for fr in frames]
	black = np.zeros_like(imgs[0])
	rc, s, err = check("ledger", write_frames(os.path.join(tmp, "enter-clear"), imgs), d=d)
	e = s["entering_lines"]
	assert e["lines"] > 10 and e["shown"] == e["lines"] and e["never"] == 0 and e["late"] == 0, e
	assert e["max_s"] == 0, e
	# the last 10 frames masked: the lines entering in them are late; the
	# rest were shown at once
	k = 10
	rc, s, err = check("ledger", write_frames(os.path.join(tmp, "enter-tail"), imgs[:n - k] + [black] * k), d=d)
	e2 = s["entering_lines"]
	assert e2["late"] > 0 and e2["never"] == 0 and e2["shown"] + e2["late"] == e["lines"] and e2["max_s"] == 0, e2
	# every frame masked: lines that entered a second or more before the end are never shown
	rc, s, err = check("ledger", write_frames(os.path.join(tmp, "enter-black"), [black] * n), d=d)
	e3 = s["entering_lines"]
	assert e3["shown"] == 0 and e3["never"] > 0 and e3["never"] + e3["late"] == e["lines"], e3
	assert e3["late"] >= e2["late"], (e2, e3)


@suite.test
def hidden_text_against_reference():
	"""A lossy round trip changes coloured text's edges: --reference (the
	input as the redactor read it) takes that out of the measure."""
	if not shutil.which("ffmpeg"):
		raise SkipTest("no ffmpeg")
	gen(["casefile"])
	y4m = os.path.join(tmp, "casefile.y4m")
	subprocess.run(["ffmpeg", "-nostdin", "-y", "-v", "error", "-framerate", "15", "-i",
		os.path.join(corpus, "casefile", "%05d.png"), "-pix_fmt", "yuv420p", y4m], check=True)
	rc, s, err = check("casefile", y4m)
	assert rc == 1 and s["steady"]["hidden_fraction"] > 0, s["steady"]  # the buttons' white on blue
	rc, s, err = check("casefile", y4m, "--reference", y4m)
	assert rc == 1 and s["steady"]["hidden_px"] == 0, (err, s["steady"], s["steady_lines_hidden"][:3])


if __name__ == "__main__":
	try:
		rc = suite.run(sys.argv[1] if len(sys.argv) > 1 else "")
	finally:
		shutil.rmtree(tmp, ignore_errors=True)
	sys.exit(rc)
