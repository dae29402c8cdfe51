#!/usr/bin/python3
"""Renders desktop-like 1920x1080 RGB screens full of synthetic personal
data, with the ground truth a redaction checker needs.

Usage:
  gen_corpus.py --out DIR [--scenario NAME|GROUP ...] [--seed N] [--frames N]
                [--jobs N] [--video] [--video-codec ffv1|x264rgb]
                [--lang de|en|seed]

GROUP: default (form table email scroll typing fullchange: what no
--scenario renders), agent (the case-work scenes casefile ledger formtype
newform newtable), all.

For each scenario it writes DIR/NAME/00000.png ... and DIR/NAME/truth.json
(format in tests/corpus/README.md); with --video also DIR/NAME.mkv, a
lossless encoding of the same frames at the scenario's frame rate.

Everything is a pure function of (seed, scenario, frames, lang): the same
command line writes the same bytes.  Ground-truth boxes are the exact
ink boxes of what was drawn (every pixel the glyphs touched), measured
by rendering each text piece alone; the label of a field is never part
of its value's box.

Needs only Debian's python3-pil and python3-numpy and the fonts of
fonts-dejavu-core, fonts-dejavu-extra and fonts-liberation2.
"""
import argparse
import functools
import json
import multiprocessing
import os
import random
import re
import shutil
import subprocess
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import synth  # noqa: E402

W, H = 1920, 1080
FONT_DIRS = ["/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/liberation2"]
FONT_FILES = {
	"DejaVu Sans": "DejaVuSans.ttf",
	"DejaVu Serif": "DejaVuSerif.ttf",
	"DejaVu Sans Mono": "DejaVuSansMono.ttf",
	"Liberation Sans": "LiberationSans-Regular.ttf",
	"Liberation Serif": "LiberationSerif-Regular.ttf",
	"Liberation Mono": "LiberationMono-Regular.ttf",
	"DejaVu Sans Bold": "DejaVuSans-Bold.ttf",
}
CONTENT_FAMILIES = [f for f in FONT_FILES if not f.endswith("Bold")]
UI_FAMILIES = ["DejaVu Sans", "Liberation Sans"]

THEMES = {
	"light": dict(desk=(58, 110, 165), panel=(235, 235, 238), win=(255, 255, 255), chrome=(226, 229, 234),
		side=(240, 242, 245), text=(28, 28, 30), label=(95, 98, 105), border=(196, 199, 205),
		field=(252, 252, 252), accent=(38, 98, 200), accent_text=(255, 255, 255), select=(204, 224, 255),
		hover=(236, 243, 255), stripe=(247, 248, 250), close=(224, 80, 70)),
	"dark": dict(desk=(24, 44, 70), panel=(45, 47, 52), win=(44, 46, 52), chrome=(60, 63, 70),
		side=(52, 54, 60), text=(226, 226, 228), label=(165, 168, 175), border=(88, 91, 99),
		field=(56, 58, 65), accent=(84, 145, 240), accent_text=(255, 255, 255), select=(46, 78, 128),
		hover=(58, 64, 78), stripe=(49, 51, 57), close=(214, 84, 74)),
}

SCENARIOS = {
	# name: (frames by default, frames per second it is meant to be played at)
	"form": (30, 10),
	"table": (30, 10),
	"email": (30, 10),
	"scroll": (60, 30),
	"typing": (60, 10),
	"fullchange": (30, 15),
	# case work (tests/corpus/README.md): German by default, 10 s each
	"casefile": (150, 15),
	"ledger": (150, 15),
	"formtype": (150, 15),
	"newform": (150, 15),
	"newtable": (150, 15),
}
# What --scenario accepts besides names; no --scenario: "default".
GROUPS = {
	"default": ["form", "table", "email", "scroll", "typing", "fullchange"],
	"agent": ["casefile", "ledger", "formtype", "newform", "newtable"],
}
GROUPS["all"] = GROUPS["default"] + GROUPS["agent"]


@functools.lru_cache(maxsize=None)
def font(family, size):
	for d in FONT_DIRS:
		p = os.path.join(d, FONT_FILES[family])
		if os.path.exists(p):
			return ImageFont.truetype(p, size)
	raise SystemExit("gen_corpus: font %s (%s) not found in %s; run scripts/setup.sh"
		% (family, FONT_FILES[family], ", ".join(FONT_DIRS)))


def line_height(f):
	asc, desc = f.getmetrics()
	return asc + desc


class Style:
	"""One look: theme, a UI font and a content font with its size, language."""

	def __init__(self, rng, lang=None):
		self.theme_name = rng.choice(["light", "dark"])
		self.t = THEMES[self.theme_name]
		self.ui = font(rng.choice(UI_FAMILIES), rng.randint(13, 16))
		self.ui_bold = font("DejaVu Sans Bold", self.ui.size)
		self.family = rng.choice(CONTENT_FAMILIES)
		self.size = rng.randint(12, 24)
		self.f = font(self.family, self.size)
		self.lang = rng.choice(["de", "de", "en"])
		if lang in ("de", "en"):  # drawn all the same: the rest of the look does not depend on lang
			self.lang = lang

	def describe(self):
		return {"theme": self.theme_name, "font": self.family, "size": self.size, "lang": self.lang}


class Screen:
	"""A PIL image plus what was drawn on it: every text line's ink box
	and text, the personal-data pieces (kind, text, ink box) and decoys
	(look-alikes that are not personal data, e.g. Luhn-invalid card
	numbers).  Boxes are [x0, y0, x1, y1), in pixels."""

	def __init__(self, w, h, bg):
		self.img = Image.new("RGB", (w, h), bg)
		self.draw = ImageDraw.Draw(self.img)
		self.lines = []
		self.pii = []
		self.decoys = []

	def copy(self):
		s = Screen.__new__(Screen)
		s.img = self.img.copy()
		s.draw = ImageDraw.Draw(s.img)
		s.lines = list(self.lines)
		s.pii = list(self.pii)
		s.decoys = list(self.decoys)
		return s

	def rect(self, box, fill, outline=None):
		self.draw.rectangle([box[0], box[1], box[2] - 1, box[3] - 1], fill=fill, outline=outline)

	def ink(self, x, y, s, f):
		"""The exact box of the pixels text s drawn at (x, y) touches."""
		bb = self.draw.textbbox((x, y), s, font=f)
		if bb[2] <= bb[0] or bb[3] <= bb[1]:
			return None
		tmp = Image.new("L", (bb[2] - bb[0] + 4, bb[3] - bb[1] + 4), 0)
		ImageDraw.Draw(tmp).text((x - bb[0] + 2, y - bb[1] + 2), s, font=f, fill=255)
		g = tmp.getbbox()
		if g is None:
			return None
		return (g[0] + bb[0] - 2, g[1] + bb[1] - 2, g[2] + bb[0] - 2, g[3] + bb[1] - 2)

	def text(self, x, y, segs, f, fill, complete=True):
		"""Draws one line made of segments at (x, y) (top of the ascent).
		segs is a string or a list of (text, kind); kind None is plain
		text, 'decoy:KIND' a look-alike, anything else personal data.
		Returns the x after the last segment."""
		if isinstance(segs, str):
			segs = [(segs, None)]
		line_box = None
		x, y = int(round(x)), int(round(y))
		for s, kind in segs:
			if s:
				self.draw.text((x, y), s, font=f, fill=fill)
				box = self.ink(x, y, s, f)
				if box:
					line_box = box if line_box is None else union(line_box, box)
					if kind and kind.startswith("decoy:"):
						self.decoys.append(dict(box=box, kind=kind[6:], text=s))
					elif kind:
						self.pii.append(dict(box=box, kind=kind, text=s, complete=complete))
				x += int(round(self.draw.textlength(s, font=f)))
		if line_box:
			self.lines.append(dict(box=line_box, text="".join(s for s, _ in segs)))
		return x


def union(a, b):
	return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def fit(s, f, maxw):
	"""s shortened with an ellipsis to at most maxw pixels (plain text only)."""
	if f.getlength(s) <= maxw:
		return s
	while s and f.getlength(s + "…") > maxw:
		s = s[:-1]
	return s + "…" if s else ""


# ---------------------------------------------------------------- chrome

def desktop(scr, st, rng):
	t = st.t
	scr.rect((0, 0, W, H), t["desk"])
	scr.rect((0, 0, W, 28), t["panel"])
	y = (28 - line_height(st.ui)) // 2
	scr.text(12, y, "Aktivitäten" if st.lang == "de" else "Activities", st.ui, t["text"])
	clock = "%s %02d:%02d" % (rng.choice(["Sa 21. Nov", "Sat Nov 21"]), rng.randint(8, 18), rng.randint(0, 59))
	scr.text(W // 2 - 50, y, clock, st.ui, t["text"])


def window(scr, st, box, title):
	"""Draws a window frame with title bar; returns its content box."""
	t = st.t
	x0, y0, x1, y1 = box
	scr.rect(box, t["win"], outline=t["border"])
	scr.rect((x0, y0, x1, y0 + 34), t["chrome"])
	scr.text(x0 + 14, y0 + (34 - line_height(st.ui_bold)) // 2, title, st.ui_bold, t["text"])
	for i, col in enumerate([t["close"], t["border"], t["border"]]):
		cx = x1 - 22 - i * 26
		scr.draw.ellipse([cx - 7, y0 + 10, cx + 7, y0 + 24], fill=col)
	return (x0 + 1, y0 + 34, x1 - 1, y1 - 1)


def sidebar(scr, st, box, items, selected):
	t = st.t
	scr.rect(box, t["side"])
	y = box[1] + 12
	rh = line_height(st.ui) + 14
	for i, item in enumerate(items):
		if i == selected:
			scr.rect((box[0] + 6, y, box[2] - 6, y + rh), t["select"])
		scr.text(box[0] + 18, y + 7, item, st.ui, t["text"])
		y += rh


def button(scr, st, x, y, label, primary=False):
	t = st.t
	w = int(st.ui.getlength(label)) + 32
	h = line_height(st.ui) + 14
	scr.draw.rounded_rectangle([x, y, x + w - 1, y + h - 1], radius=5,
		fill=t["accent"] if primary else t["chrome"], outline=t["border"])
	scr.text(x + 16, y + 7, label, st.ui, t["accent_text"] if primary else t["text"])
	return w


# ---------------------------------------------------------------- data

def record(rng):
	first, last = synth.person(rng)
	return dict(first=first, last=last, full="%s %s" % (first, last), email=synth.email(rng, first, last),
		phone=synth.phone(rng), mobile=synth.phone(rng), street=synth.street(rng), city=synth.plz_city(rng),
		iban=synth.iban(rng), bic=rng.choice(["COBADEFFXXX", "DEUTDEDBBER", "GENODEF1S04", "BYLADEM1001", "INGDDEFFXXX"]),
		account=synth.account_no(rng), customer=synth.customer_no(rng), birth=synth.birthdate(rng),
		taxid=synth.steuer_id(rng, grouped=rng.random() < 0.5), ausweis=synth.ausweis(rng),
		card=synth.card(rng), card_ok=rng.random() < 0.7, bad_card=synth.card(rng, valid=False),
		balance=synth.amount(rng), changed=synth.date(rng), status=rng.choice(["Aktiv", "Gesperrt", "Neu", "Geprüft"]))


# (German label, English label, record key, kind or None for not personal)
FORM_FIELDS = [
	("Name:", "Name:", "last", "name"),
	("Vorname:", "First name:", "first", "name"),
	("Kontoinhaber:", "Account holder:", "full", "name"),
	("IBAN:", "IBAN:", "iban", "iban"),
	("BIC:", "BIC:", "bic", None),
	("Kontonummer:", "Account no.:", "account", "account-no"),
	("Kundennummer:", "Customer no.:", "customer", "customer-no"),
	("E-Mail:", "E-mail:", "email", "email"),
	("Telefon:", "Phone:", "phone", "phone"),
	("Mobil:", "Mobile:", "mobile", "phone"),
	("Straße:", "Street:", "street", "street"),
	("PLZ/Ort:", "ZIP/City:", "city", "plz-city"),
	("Geburtsdatum:", "Date of birth:", "birth", "birthdate"),
	("Steuer-ID:", "Tax ID:", "taxid", "steuer-id"),
	("Ausweisnummer:", "ID card no.:", "ausweis", "ausweis"),
	("Kreditkarte:", "Credit card:", "card", "card"),
	("Kontostand:", "Balance:", "balance", None),
	("Status:", "Status:", "status", None),
	("Letzte Änderung:", "Last change:", "changed", None),
]

MENU_DE = ["Übersicht", "Kunden", "Konten", "Zahlungen", "Verträge", "Berichte", "Einstellungen", "Hilfe"]
MENU_EN = ["Overview", "Customers", "Accounts", "Payments", "Contracts", "Reports", "Settings", "Help"]


def render_form(rng, st, rec=None, empty=()):
	"""A CRM customer form.  Fields whose record key is in empty are drawn
	as empty input boxes; their value positions come back in the second
	return value {key: (x, y, kind)} so that text can be typed there."""
	rec = rec or record(rng)
	t = st.t
	scr = Screen(W, H, t["desk"])
	desktop(scr, st, rng)
	de = st.lang == "de"
	content = window(scr, st, (40, 50, W - 40, H - 30), "Kundenverwaltung – Kunde bearbeiten" if de else "CRM – Edit customer")
	side_w = 240
	sidebar(scr, st, (content[0], content[1], content[0] + side_w, content[3]), MENU_DE if de else MENU_EN, 1)
	x0 = content[0] + side_w + 40
	y = content[1] + 24
	# the customer number in the heading is personal data too
	scr.text(x0, y, [(("Kunde " if de else "Customer "), None), (rec["customer"], "customer-no")], st.ui_bold, t["text"])
	y += line_height(st.ui_bold) + 24
	lh = line_height(st.f)
	row_h = lh + 16
	label_w = max(int(st.f.getlength(f[0 if de else 1])) for f in FORM_FIELDS) + 20
	col_w = (content[2] - x0 - 40) // 2
	box_w = col_w - label_w - 40
	rows_per_col = (len(FORM_FIELDS) + 1) // 2
	slots = {}
	for i, (lde, len_, key, kind) in enumerate(FORM_FIELDS):
		cx = x0 + (i // rows_per_col) * col_w
		cy = y + (i % rows_per_col) * (row_h + 10)
		scr.text(cx, cy + 8, lde if de else len_, st.f, t["label"])
		bx = cx + label_w
		scr.rect((bx, cy, bx + box_w, cy + row_h), t["field"], outline=t["border"])
		if key in empty:
			slots[key] = (bx + 8, cy + 8, kind)
		elif kind == "card" and not rec["card_ok"]:
			scr.text(bx + 8, cy + 8, [(rec["bad_card"], "decoy:card")], st.f, t["text"])
		else:
			scr.text(bx + 8, cy + 8, [(rec[key], kind)], st.f, t["text"])
	by = y + rows_per_col * (row_h + 10) + 20
	bx = x0
	for label, primary in ([("Speichern", True), ("Abbrechen", False), ("Löschen", False)] if de else
			[("Save", True), ("Cancel", False), ("Delete", False)]):
		bx += button(scr, st, bx, by, label, primary) + 12
	note = ("Hinweis: Änderungen an Bankdaten werden erst nach Freigabe durch die Buchhaltung wirksam." if de else
		"Note: changes to bank details take effect after approval by accounting.")
	scr.text(x0, by + line_height(st.ui) + 40, fit(note, st.f, content[2] - x0 - 20), st.f, t["label"])
	scr.rect((content[0], content[3] - 28, content[2], content[3]), t["chrome"])
	scr.text(content[0] + 10, content[3] - 28 + (28 - line_height(st.ui)) // 2,
		"Bereit – verbunden mit crm01" if de else "Ready – connected to crm01", st.ui, t["label"])
	return scr, slots


def table_data(rng, n):
	return [record(rng) for _ in range(n)]


def render_table(st, rows, hover, rng_seed):
	rng = random.Random(rng_seed)  # chrome details (clock) stay the same across hover states
	t = st.t
	de = st.lang == "de"
	scr = Screen(W, H, t["desk"])
	desktop(scr, st, rng)
	content = window(scr, st, (30, 44, W - 30, H - 20), "Kundenliste – Filiale Mitte" if de else "Customer list – branch Mitte")
	cols = [  # header, key, kind
		("Kd-Nr." if de else "Cust. no.", "customer", "customer-no"),
		("Name", "full", "name"),
		("E-Mail" if de else "E-mail", "email", "email"),
		("Telefon" if de else "Phone", "phone", "phone"),
		("PLZ Ort" if de else "ZIP City", "city", "plz-city"),
		("IBAN", "iban", "iban"),
		("Karte" if de else "Card", "card", "card"),
		("Betrag" if de else "Amount", "balance", None),
		("Datum" if de else "Date", "changed", None),
		("Status", "status", None),
	]

	def cell(r, key):
		if key == "card" and not r["card_ok"]:
			return r["bad_card"], "decoy:card"
		return r[key], None

	widths = []
	for hdr, key, kind in cols:
		w = max([st.f.getlength(hdr)] + [st.f.getlength(cell(r, key)[0]) for r in rows])
		widths.append(int(w) + 24)
	avail = content[2] - content[0] - 20
	# Large fonts: drop columns until the table fits, keeping the card
	# column (Luhn decoys) and at least one column without personal data.
	for key in ["changed", "city", "customer", "status", "phone", "email"]:
		if sum(widths) <= avail:
			break
		i = next(i for i, c in enumerate(cols) if c[1] == key)
		del cols[i], widths[i]
	lh = line_height(st.f)
	rh = lh + 12
	x0 = content[0] + 10
	y = content[1] + 14
	scr.text(x0, y, "Suche:" if de else "Search:", st.ui, t["label"])
	scr.rect((x0 + 80, y - 4, x0 + 380, y + line_height(st.ui) + 4), t["field"], outline=t["border"])
	y += line_height(st.ui) + 20
	scr.rect((content[0], y, content[2], y + rh), t["chrome"])
	x = x0
	for (hdr, _, _), w in zip(cols, widths):
		scr.text(x, y + 6, hdr, font(("DejaVu Sans Bold"), st.size), t["text"])
		x += w
	y += rh
	for i, r in enumerate(rows):
		if y + rh > content[3] - 30:
			break
		bg = t["hover"] if i == hover else (t["stripe"] if i % 2 else t["win"])
		scr.rect((content[0], y, content[2], y + rh), bg)
		x = x0
		for (hdr, key, kind), w in zip(cols, widths):
			val, dk = cell(r, key)
			scr.text(x, y + 6, [(val, dk or kind)], st.f, t["text"])
			x += w
		y += rh
	scr.rect((content[0], content[3] - 28, content[2], content[3]), t["chrome"])
	scr.text(content[0] + 10, content[3] - 28 + (28 - line_height(st.ui)) // 2,
		("%d Kunden" if de else "%d customers") % len(rows), st.ui, t["label"])
	return scr


SUBJECTS_DE = ["Ihre Anfrage vom 12.11.", "Rechnung Nr. 2026-%04d", "Adressänderung", "Rückfrage zur Überweisung",
	"Vertragsunterlagen", "Terminbestätigung", "Kündigung zum Jahresende", "Mahnung", "Neue Bankverbindung"]
SUBJECTS_EN = ["Your request of 12 Nov", "Invoice no. 2026-%04d", "Change of address", "Question about the transfer",
	"Contract documents", "Appointment confirmed", "Cancellation", "Reminder", "New bank details"]


def mail_data(rng, n):
	msgs = []
	for _ in range(n):
		r = record(rng)
		r["subject_i"] = rng.randrange(len(SUBJECTS_DE))
		r["num"] = rng.randint(1, 9999)
		r["mr"] = rng.choice([True, False])
		r["to"] = record(rng)
		msgs.append(r)
	return msgs


def letter(m, de):
	"""The body of message m: lines of (text, kind) segments."""
	to = m["to"]
	if de:
		salute = [("Sehr geehrte%s " % ("r Herr" if m["mr"] else " Frau"), None), (to["last"], "name"), (",", None)]
		return [
			[(to["full"], "name")], [(to["street"], "street")], [(to["city"], "plz-city")], [],
			salute, [],
			[("vielen Dank für Ihre Nachricht. Wie besprochen erstatten wir Ihnen den Betrag", None)],
			[("von %s auf Ihr Konto " % m["balance"], None), (to["iban"], "iban"), (".", None)],
			[("Ihre Kundennummer lautet ", None), (to["customer"], "customer-no"), ("; bitte geben Sie sie bei", None)],
			[("Rückfragen immer an. Sie erreichen mich unter ", None), (m["phone"], "phone"), (" oder", None)],
			[("per E-Mail an ", None), (m["email"], "email"), (".", None)], [],
			[("Mit freundlichen Grüßen", None)], [],
			[(m["full"], "name")], [("Kundenservice, Musterbank AG", None)],
			[("Tel. ", None), (m["mobile"], "phone")],
		]
	salute = [("Dear %s " % ("Mr" if m["mr"] else "Ms"), None), (to["last"], "name"), (",", None)]
	return [
		[(to["full"], "name")], [(to["street"], "street")], [(to["city"], "plz-city")], [],
		salute, [],
		[("thank you for your message. As agreed we will refund the amount of", None)],
		[("%s to your account " % m["balance"], None), (to["iban"], "iban"), (".", None)],
		[("Your customer number is ", None), (to["customer"], "customer-no"), ("; please quote it", None)],
		[("in every reply. You can reach me at ", None), (m["phone"], "phone"), (" or", None)],
		[("by e-mail at ", None), (m["email"], "email"), (".", None)], [],
		[("Kind regards", None)], [],
		[(m["full"], "name")], [("Customer service, Musterbank AG", None)],
		[("Phone ", None), (m["mobile"], "phone")],
	]


def render_mail(st, msgs, selected, rng_seed):
	rng = random.Random(rng_seed)
	t = st.t
	de = st.lang == "de"
	scr = Screen(W, H, t["desk"])
	desktop(scr, st, rng)
	content = window(scr, st, (30, 44, W - 30, H - 20), "Posteingang – Mail" if de else "Inbox – Mail")
	folders = (["Posteingang (%d)" % len(msgs), "Entwürfe", "Gesendet", "Archiv", "Spam", "Papierkorb"] if de else
		["Inbox (%d)" % len(msgs), "Drafts", "Sent", "Archive", "Spam", "Trash"])
	sidebar(scr, st, (content[0], content[1], content[0] + 210, content[3]), folders, 0)
	lx0, lx1 = content[0] + 210, content[0] + 210 + 500
	scr.rect((lx0, content[1], lx1, content[3]), t["win"])
	scr.rect((lx1, content[1], lx1 + 1, content[3]), t["border"])
	y = content[1] + 6
	lh_ui = line_height(st.ui)
	subjects = SUBJECTS_DE if de else SUBJECTS_EN
	for i, m in enumerate(msgs):
		h = 2 * lh_ui + 20
		if y + h > content[3]:
			break
		if i == selected:
			scr.rect((lx0, y, lx1, y + h), t["select"])
		sender = [(m["full"], "name")] if i % 3 else [(m["email"], "email")]
		scr.text(lx0 + 12, y + 6, sender, st.ui_bold, t["text"])
		scr.text(lx1 - 90, y + 6, m["changed"][:6], st.ui, t["label"])
		subj = subjects[m["subject_i"]]
		subj = subj % m["num"] if "%" in subj else subj
		scr.text(lx0 + 12, y + 12 + lh_ui, fit(subj, st.ui, lx1 - lx0 - 24), st.ui, t["label"])
		y += h
	m = msgs[selected]
	px = lx1 + 30
	y = content[1] + 20
	subj = subjects[m["subject_i"]]
	subj = subj % m["num"] if "%" in subj else subj
	big = font("DejaVu Sans Bold", min(26, st.size + 4))
	scr.text(px, y, subj, big, t["text"])
	y += line_height(big) + 12
	hdr = [
		[("Von: " if de else "From: ", None), (m["full"], "name"), (" <", None), (m["email"], "email"), (">", None)],
		[("An: " if de else "To: ", None), (m["to"]["email"], "email")],
		[("Datum: " if de else "Date: ", None), (m["changed"] + " 09:41", None)],
	]
	for segs in hdr:
		scr.text(px, y, segs, st.ui, t["label"])
		y += lh_ui + 6
	scr.rect((px, y + 6, content[2] - 30, y + 7), t["border"])
	y += 24
	lh = line_height(st.f)
	for segs in letter(m, de):
		if y + lh > content[3] - 10:
			break
		if segs:
			scr.text(px, y, segs, st.f, t["text"])
		y += lh + max(2, lh // 4)
	return scr


FILLER_DE = ("die der und in zu den das nicht von sie ist des sich mit dem dass er es ein ich auf so eine auch als an "
	"nach wie im für man aber aus durch wenn nur war noch werden bei hat wir was wird sein einen welche sind oder zur "
	"um haben einer mir über ihm diese einem ihr uns da zum kann doch vor dieser wieder Vertrag Leistung Zahlung "
	"Frist Unterlagen Antrag Prüfung Konto Bestätigung Vereinbarung Bedingungen Zeitraum Abrechnung").split()
FILLER_EN = ("the of and to in is that for it as was with be by on not he this are or his from at which but have an "
	"they you were her all she there would their we him been has when who will more no if out so said what up its "
	"contract payment period documents application review account confirmation agreement terms statement").split()


def filler(rng, de, words):
	ws = [rng.choice(FILLER_DE if de else FILLER_EN) for _ in range(words)]
	s = " ".join(ws)
	return s[0].upper() + s[1:] + "."


def render_scroll_doc(rng, st, width, min_height):
	"""A long customer file: prose, then records of personal data.  The
	first screenful holds no personal data, so that all of it scrolls in
	from the bottom."""
	t = st.t
	de = st.lang == "de"
	lh = line_height(st.f)
	step = lh + max(3, lh // 3)
	plan = []  # lines of segments
	plan.append([("Kundenakte – Auszug" if de else "Customer file – extract", None)])
	plan.append([])
	while len(plan) * step < 0.7 * 900:
		plan.append([(filler(rng, de, rng.randint(6, 10)), None)])
	n = 0
	while len(plan) * step < min_height:
		n += 1
		r = record(rng)
		plan.append([])
		plan.append([(("Datensatz %d" if de else "Record %d") % n, None)])
		for lde, len_, key, kind in rng.sample(FORM_FIELDS, 7):
			if kind == "card" and not r["card_ok"]:
				plan.append([(lde if de else len_, None), (" ", None), (r["bad_card"], "decoy:card")])
			else:
				plan.append([(lde if de else len_, None), (" ", None), (r[key], kind)])
		plan.append([(filler(rng, de, rng.randint(5, 9)), None)])
	doc = Screen(width, len(plan) * step + 40, t["win"])
	y = 20
	for segs in plan:
		if segs:
			doc.text(24, y, segs, st.f, t["text"])
		y += step
	return doc


TYPED = ["iban", "email", "full"]  # record keys typed in the typing scenario, in order


# ---------------------------------------------------------------- scenarios

def clip_entry(e, dx, dy, clip):
	"""Entry e moved by (dx, dy) and clipped to box clip; None if nothing
	of it is left.  'visible' is the share of its area left."""
	x0, y0, x1, y1 = e["box"]
	x0, y0, x1, y1 = x0 + dx, y0 + dy, x1 + dx, y1 + dy
	area = (x1 - x0) * (y1 - y0)
	cx0, cy0 = max(x0, clip[0]), max(y0, clip[1])
	cx1, cy1 = min(x1, clip[2]), min(y1, clip[3])
	if cx1 <= cx0 or cy1 <= cy0:
		return None
	out = dict(e)
	out["box"] = (cx0, cy0, cx1, cy1)
	out["visible"] = round((cx1 - cx0) * (cy1 - cy0) / area, 4)
	return out


def truth_of(scr, extra=None):
	def box(e):
		x0, y0, x1, y1 = e["box"]
		d = dict(x=x0, y=y0, w=x1 - x0, h=y1 - y0)
		for k, v in e.items():
			if k != "box":
				d[k] = v
		return d
	fr = dict(pii=[box(e) for e in scr.pii], decoys=[box(e) for e in scr.decoys], lines=[box(e) for e in scr.lines])
	for e in fr["pii"]:
		e.setdefault("visible", 1.0)
		e.setdefault("complete", True)
	if extra:
		fr.update(extra)
	return fr


def scenario_frames(name, seed, nframes, lang=None):
	"""Yields (key, image or None, truth dict) per frame; an image of None
	means 'the same picture as the last frame with this key'.  lang: "de"
	or "en" for every screen, "seed" or None: drawn from the seed (the
	case-work scenes: None is "de")."""
	rng = random.Random("%s:%s" % (seed, name))
	if name in GROUPS["agent"]:
		yield from case_frames(name, rng, nframes, "de" if lang is None else lang)
		return
	if name == "form":
		st = Style(rng, lang)
		scr, _ = render_form(rng, st)
		tr = truth_of(scr, dict(style=st.describe()))
		for i in range(nframes):
			yield "form", scr.img if i == 0 else None, tr
	elif name == "table":
		st = Style(rng, lang)
		rows = table_data(rng, 40)
		chrome_seed = rng.random()
		cache = {}
		for i in range(nframes):
			hover = (i // 6) % 8
			if hover not in cache:
				scr = render_table(st, rows, hover, chrome_seed)
				cache[hover] = truth_of(scr, dict(style=st.describe()))
				yield hover, scr.img, cache[hover]
			else:
				yield hover, None, cache[hover]
	elif name == "email":
		st = Style(rng, lang)
		msgs = mail_data(rng, 12)
		chrome_seed = rng.random()
		cache = {}
		for i in range(nframes):
			sel = (i // 10) % len(msgs)
			if sel not in cache:
				scr = render_mail(st, msgs, sel, chrome_seed)
				cache[sel] = truth_of(scr, dict(style=st.describe()))
				yield sel, scr.img, cache[sel]
			else:
				yield sel, None, cache[sel]
	elif name == "scroll":
		st = Style(rng, lang)
		base = Screen(W, H, st.t["desk"])
		desktop(base, st, rng)
		de = st.lang == "de"
		content = window(base, st, (40, 50, W - 40, H - 30), "Kundenakte.pdf – Dokumentbetrachter" if de else "customer-file.pdf – Document viewer")
		view = (content[0] + 200, content[1] + 10, content[2] - 220, content[3] - 10)
		base.rect((content[0], content[1], content[0] + 180, content[3]), st.t["side"])
		for k in range(6):  # page thumbnails
			base.rect((content[0] + 40, content[1] + 20 + k * 150, content[0] + 140, content[1] + 150 + k * 150), st.t["win"], outline=st.t["border"])
		steps = [rng.randint(3, 8) for _ in range(nframes)]
		steps[0] = 0
		total = sum(steps)
		vw, vh = view[2] - view[0], view[3] - view[1]
		doc = render_scroll_doc(rng, st, vw, vh + total + 40)
		docarr = np.asarray(doc.img)
		basearr = np.asarray(base.img)
		track = (view[2] + 8, view[1], view[2] + 20, view[3])
		off = 0
		for i in range(nframes):
			off += steps[i]
			arr = basearr.copy()
			arr[view[1]:view[3], view[0]:view[2]] = docarr[off:off + vh]
			thumb_h = max(30, vh * vh // doc.img.height)
			ty = track[1] + (vh - thumb_h) * off // max(1, doc.img.height - vh)
			arr[track[1]:track[3], track[0]:track[2]] = st.t["side"]
			arr[ty:ty + thumb_h, track[0]:track[2]] = st.t["border"]
			dx, dy = view[0], view[1] - off
			fr = truth_of(base, dict(style=st.describe(), scroll_y=off))
			moved = _Boxes()
			for key in ("pii", "decoys", "lines"):
				for e in getattr(doc, key):
					m = clip_entry(e, dx, dy, view)
					if m:
						getattr(moved, key).append(m)
			for key, lst in truth_of(moved).items():
				fr[key] += lst
			yield i, Image.fromarray(arr), fr
	elif name == "typing":
		st = Style(rng, lang)
		rec = record(rng)
		scr, slots = render_form(rng, st, rec, empty=set(TYPED))
		script = []  # (key, prefix length)
		for key in TYPED:
			for n in range(1, len(rec[key]) + 1):
				script.append((key, n))
		per = rng.choice([1, 2])  # frames per typed character
		for i in range(nframes):
			typed = min(len(script), i // per)
			f = scr.copy()
			done = {}
			for key, n in script[:typed]:
				done[key] = n
			cursor_at = None
			for key in TYPED:
				x, y, kind = slots[key]
				n = done.get(key, 0)
				if n:
					xe = f.text(x, y, [(rec[key][:n], kind)], st.f, st.t["text"], complete=(n == len(rec[key])))
					cursor_at = (xe, y)
				elif cursor_at is None:
					cursor_at = (x, y)
					break
			if cursor_at and (i // 5) % 2 == 0:  # blinks at 1 Hz when played at 10 fps
				cx, cy = int(cursor_at[0]) + 2, cursor_at[1]
				f.rect((cx, cy, cx + 2, cy + line_height(st.f)), st.t["text"])
			yield i, f.img, truth_of(f, dict(style=st.describe(), typed=typed))
	elif name == "fullchange":
		for i in range(nframes):
			st = Style(rng, lang)
			kind = ["form", "table", "email"][i % 3]
			if kind == "form":
				scr, _ = render_form(rng, st)
			elif kind == "table":
				scr = render_table(st, table_data(rng, 30), rng.randrange(10), rng.random())
			else:
				scr = render_mail(st, mail_data(rng, 10), rng.randrange(5), rng.random())
			yield i, scr.img, truth_of(scr, dict(style=st.describe(), screen=kind))
	else:
		raise SystemExit("gen_corpus: unknown scenario %r (known: %s)" % (name, ", ".join(SCENARIOS)))


class _Boxes:
	"""The lists of a Screen without its picture, for truth_of."""

	def __init__(self):
		self.pii, self.decoys, self.lines = [], [], []


# ---------------------------------------------------------------- case work (casefile, ledger, formtype, newform, newtable)
#
# Screens of clerical work where most text is NOT personal data: a case
# window with a reference number in its title, labels with and without
# values, free-text notes, tables with row numbers and amounts.  What a
# redactor hides of that text is over-masking (check_redaction.py's
# "steady" and "readable_after_s").  Every line gets an "id" that stays the
# same across frames for the same drawn piece (also while it scrolls).

# (German label, English label, record key or None for an empty field, kind or None: not personal)
CASE_PERSON = [
	("Name:", "Last name:", "last", "name"),
	("Vorname:", "First name:", "first", "name"),
	("Titel:", "Title:", None, None),
	("Geburtsdatum:", "Date of birth:", "birth", "birthdate"),
	("Straße:", "Street:", "street", "street"),
	("PLZ / Ort:", "ZIP / City:", "city", "plz-city"),
	("Telefon:", "Phone:", "phone", "phone"),
	("E-Mail:", "E-mail:", "email", "email"),
	("IBAN:", "IBAN:", "iban", "iban"),
	("Firma:", "Company:", None, None),
]
CASE_CONTRACT = [
	("Kundennummer:", "Customer no.:", "customer", "customer-no"),
	("Tarif:", "Tariff:", "tariff", None),
	("Status:", "Status:", "cstatus", None),
	("Vertragsbeginn:", "Contract start:", "start", None),
	("Zahlweise:", "Payment:", "cycle", None),
	("Beitrag:", "Premium:", "fee", None),
	("Zuständig:", "Handled by:", "team", None),
	("Wiedervorlage:", "Follow-up:", "followup", None),
	("Kündigung zum:", "Notice to:", None, None),
	("Fax:", "Fax:", None, None),
]
CASE_STATUS = [("aktiv", "active"), ("ruhend", "dormant"), ("in Prüfung", "under review"), ("gekündigt", "cancelled")]
CASE_CYCLE = [("monatlich", "monthly"), ("vierteljährlich", "quarterly"), ("jährlich", "yearly")]
CASE_KIND = [("Adressänderung", "Change of address"), ("Tarifwechsel", "Tariff change"), ("Beschwerde", "Complaint"),
	("Kündigung", "Cancellation"), ("Erstattung", "Refund"), ("Neuantrag", "New application")]
NOTES_PLAIN = [
	("Kunde bittet um Zusendung der Unterlagen per Post.", "Customer asks for the documents to be sent by post."),
	("Unterlagen vollständig eingegangen, Prüfung abgeschlossen.", "Documents complete, review finished."),
	("Beitragsanpassung zum 01.07. wurde schriftlich mitgeteilt.", "Premium change as of 1 July was sent in writing."),
	("Wiedervorlage in zwei Wochen, danach Erinnerung versenden.", "Follow up in two weeks, then send a reminder."),
	("Tarifwechsel auf Komfort Plus wurde bestätigt.", "Change to tariff Comfort Plus was confirmed."),
	("Rückfrage zur Zahlweise offen, Antwort steht noch aus.", "Question about the payment cycle still open."),
	("Schreiben vom 12.03. liegt vor und wurde abgelegt.", "Letter of 12 March received and filed."),
	("Kündigung nicht fristgerecht, Kunde wurde informiert.", "Cancellation not in time, customer was informed."),
]
TYPED_NOTE = ("Kunde bittet um Rückruf am Vormittag.", "Customer asks to be called back in the morning.")
LEDGER_STATUS = [("offen", "open"), ("bezahlt", "paid"), ("gemahnt", "reminded"), ("gestundet", "deferred")]


def note_personal(r, de, which):
	"""Note `which` (0..4) with personal data of record r inline."""
	mr = r["first"] in ("Lukas", "Maximilian", "Jonas", "Felix", "Paul", "Leon", "Finn", "Jürgen", "Thomas", "Klaus",
		"Stefan", "Andreas", "Mehmet", "Oliver", "James", "Jörg")
	if which == 0:
		return [("Rückruf erbeten unter " if de else "Please call back on ", None), (r["phone"], "phone"), (".", None)]
	if which == 1:
		return [("Neue Anschrift: " if de else "New address: ", None), (r["street"], "street"), (", ", None),
			(r["city"], "plz-city"), (".", None)]
	if which == 2:
		return [(("Telefonat mit Herrn " if mr else "Telefonat mit Frau ") if de else ("Call with Mr " if mr else "Call with Ms "),
			None), (r["last"], "name"), (", Anliegen geklärt." if de else ", issue resolved.", None)]
	if which == 3:
		return [("Erstattung auf " if de else "Refund to ", None), (r["iban"], "iban"), (" veranlasst." if de else " ordered.", None)]
	return [("Bestätigung an " if de else "Confirmation sent to ", None), (r["email"], "email"),
		(" gesendet." if de else ".", None)]


def case_record(rng):
	"""A customer record plus the case's values that are not personal;
	language-independent draws (index into the de/en pairs)."""
	r = record(rng)
	r.update(ref=synth.reference_no(rng), tariff_i=rng.randrange(len(synth.TARIFFS)),
		cstatus_i=rng.randrange(len(CASE_STATUS)), start=synth.contract_date(rng), cycle_i=rng.randrange(len(CASE_CYCLE)),
		fee=synth.fee(rng), team_n=rng.randint(1, 9), followup=synth.date(rng), kind_i=rng.randrange(len(CASE_KIND)))
	plain = rng.sample(range(len(NOTES_PLAIN)), 5)
	personal = rng.sample(range(5), 3)
	# one personal note among the first three, so that large fonts (fewer
	# note lines fit) still have one
	notes = [("p", i) for i in plain] + [("x", i) for i in personal[1:]]
	rng.shuffle(notes)
	notes.insert(rng.randrange(3), ("x", personal[0]))
	r["notes"] = notes
	r["note_dates"] = sorted((synth.date(rng) for _ in notes), key=lambda d: (d[6:], d[3:5], d[:2]), reverse=True)
	r["nav"] = [(str(int(r["ref"]) - rng.randint(1, 400)), rng.randrange(len(CASE_KIND))) for _ in range(7)]
	return r


def case_values(r, de):
	"""The record's values that depend on the language."""
	k = 0 if de else 1
	v = dict(r)
	v.update(tariff=synth.TARIFFS[r["tariff_i"]][k], cstatus=CASE_STATUS[r["cstatus_i"]][k],
		cycle=CASE_CYCLE[r["cycle_i"]][k], team=("Team Privatkunden %d" if de else "Private customers team %d") % r["team_n"],
		kind=CASE_KIND[r["kind_i"]][k])
	return v


def wrap(segs, f, maxw):
	"""Breaks a line of (text, kind) segments into lines at most maxw wide,
	at spaces of plain text (personal values are never split)."""
	if f.getlength("".join(s for s, _ in segs)) <= maxw:
		return [segs]
	tokens = []
	for s, kind in segs:
		if kind:
			tokens.append((s, kind))
		else:
			tokens += [(w, None) for w in re.split(r"( +)", s) if w]
	lines, cur = [], []

	def text(ts):
		return "".join(s for s, _ in ts)
	for tok in tokens:
		if cur and tok[0].strip() and f.getlength(text(cur + [tok])) > maxw:
			while cur and not cur[-1][0].strip():
				cur.pop()
			lines.append(cur)
			cur = []
		if cur or tok[0].strip():
			cur.append(tok)
	if cur:
		lines.append(cur)
	out = []
	for ln in lines:  # plain neighbours back into one segment
		m = []
		for s, kind in ln:
			if m and kind is None and m[-1][1] is None:
				m[-1] = (m[-1][0] + s, None)
			else:
				m.append((s, kind))
		out.append(m)
	return out


def menubar(scr, st, content, items):
	"""A menu bar across the window; returns the y below it."""
	t = st.t
	h = line_height(st.ui) + 10
	y0 = content[1]
	scr.rect((content[0], y0, content[2], y0 + h), t["win"])
	scr.rect((content[0], y0 + h - 1, content[2], y0 + h), t["border"])
	x = content[0] + 12
	for it in items:
		scr.text(x, y0 + 5, it, st.ui, t["text"])
		x += int(st.ui.getlength(it)) + 22
	return y0 + h


def toolbar(scr, st, content, y0, labels, search=None):
	"""A tool bar of buttons (and a search field with placeholder text at
	the right); returns the y below it."""
	t = st.t
	h = line_height(st.ui) + 26
	scr.rect((content[0], y0, content[2], y0 + h), t["chrome"])
	x = content[0] + 10
	for i, label in enumerate(labels):
		x += button(scr, st, x, y0 + 6, label, primary=(i == 1)) + 8
	if search:
		sw = min(360, int(st.ui.getlength(search)) + 40)
		sx = content[2] - sw - 14
		scr.rect((sx, y0 + 6, sx + sw, y0 + h - 6), t["field"], outline=t["border"])
		scr.text(sx + 10, y0 + 13, search, st.ui, t["label"])
	return y0 + h


def statusbar(scr, st, content, text):
	t = st.t
	scr.rect((content[0], content[3] - 28, content[2], content[3]), t["chrome"])
	scr.text(content[0] + 10, content[3] - 28 + (28 - line_height(st.ui)) // 2, text, st.ui, t["label"])


def tag(scr, prefix):
	"""Gives each line of scr without an id the id PREFIX + its position."""
	for k, e in enumerate(scr.lines):
		e.setdefault("id", "%s%d" % (prefix, k))


def render_casefile(rng, st, rec, empty=(), notes=True, nav=True):
	"""An application window for case work: title bar with the case's
	reference number, menu bar, tool bar, a list of cases, tabs, a form of
	labels with values (personal or not) and without, a notes panel of
	sentences (some with personal data), buttons, a status bar.  Fields
	whose record key is in empty are drawn empty; their value positions
	come back as {key: (x, y, kind)}, and 'note' the place of one more
	note line."""
	t = st.t
	de = st.lang == "de"
	v = case_values(rec, de)
	scr = Screen(W, H, t["desk"])
	desktop(scr, st, rng)
	content = window(scr, st, (40, 50, W - 40, H - 30),
		("Vorgang %s – Kundenakte" if de else "Case %s – Customer file") % rec["ref"])
	y = menubar(scr, st, content, ["Datei", "Bearbeiten", "Ansicht", "Vorgang", "Extras", "Hilfe"] if de else
		["File", "Edit", "View", "Case", "Tools", "Help"])
	y = toolbar(scr, st, content, y, ["Neu", "Speichern", "Drucken", "Weiterleiten", "Schließen"] if de else
		["New", "Save", "Print", "Forward", "Close"], "Vorgang suchen…" if de else "Search cases…")
	x0 = content[0]
	if nav:
		nav_w = 250
		scr.rect((content[0], y, content[0] + nav_w, content[3] - 28), t["side"])
		scr.text(content[0] + 14, y + 12, "Vorgänge" if de else "Cases", st.ui_bold, t["text"])
		ny = y + 12 + line_height(st.ui_bold) + 12
		rh = line_height(st.ui) + 12
		items = [(rec["ref"], rec["kind_i"])] + rec["nav"]
		for i, (ref, ki) in enumerate(items):
			if i == 0:
				scr.rect((content[0] + 6, ny, content[0] + nav_w - 6, ny + rh), t["select"])
			label = "%s %s · %s" % ("Vorgang" if de else "Case", ref, CASE_KIND[ki][0 if de else 1])
			scr.text(content[0] + 16, ny + 6, fit(label, st.ui, nav_w - 30), st.ui, t["text"])
			ny += rh
		x0 = content[0] + nav_w
	# tabs
	th = line_height(st.ui) + 14
	tx = x0 + 20
	for i, lab in enumerate(["Stammdaten", "Vertrag", "Dokumente (3)", "Historie"] if de else
			["Master data", "Contract", "Documents (3)", "History"]):
		tw = int(st.ui.getlength(lab)) + 28
		scr.rect((tx, y + 8, tx + tw, y + 8 + th), t["win"] if i == 0 else t["chrome"], outline=t["border"])
		scr.text(tx + 14, y + 15, lab, st.ui, t["text"])
		tx += tw + 4
	y += 8 + th + 16
	fx0 = x0 + 30
	fx1 = content[2] - 30
	head = font("DejaVu Sans Bold", st.size)
	scr.text(fx0, y, ("Vorgang %s · %s" if de else "Case %s · %s") % (rec["ref"], v["kind"]), head, t["text"])
	y += line_height(head) + 18
	lh = line_height(st.f)
	row_h = lh + 10
	gap = max(4, lh // 4)
	col_w = (fx1 - fx0 - 40) // 2
	labels = [f[0 if de else 1] for f in CASE_PERSON + CASE_CONTRACT]
	label_w = max(int(st.f.getlength(lab)) for lab in labels) + 16
	box_w = col_w - label_w - 10
	slots = {}
	sec = font("DejaVu Sans Bold", max(12, st.size - 2))
	for c, (title, fields) in enumerate([("Persönliche Daten" if de else "Personal data", CASE_PERSON),
			("Vertrag" if de else "Contract", CASE_CONTRACT)]):
		cx = fx0 + c * (col_w + 40)
		scr.text(cx, y, title, sec, t["label"])
		cy = y + line_height(sec) + 10
		for lde, len_, key, kind in fields:
			scr.text(cx, cy + 5, lde if de else len_, st.f, t["label"])
			bx = cx + label_w
			scr.rect((bx, cy, bx + box_w, cy + row_h), t["field"], outline=t["border"])
			if key in empty:
				slots[key] = (bx + 8, cy + 5, kind)
			elif key:
				scr.text(bx + 8, cy + 5, [(v[key], kind)], st.f, t["text"])
			cy += row_h + gap
	y = cy + 10
	bh = line_height(st.ui) + 14
	by = content[3] - 28 - bh - 14
	if notes:
		scr.text(fx0, y, "Notizen" if de else "Notes", sec, t["label"])
		y += line_height(sec) + 8
		ny1 = by - 14
		scr.rect((fx0, y, fx1, ny1), t["field"], outline=t["border"])
		step = lh + max(4, lh // 3)
		ny = y + 8
		maxw = fx1 - fx0 - 24
		for (what, i), date in zip(rec["notes"], rec["note_dates"]):
			segs = [(date + "  ", None)] + ([(NOTES_PLAIN[i][0 if de else 1], None)] if what == "p" else note_personal(rec, de, i))
			lines = wrap(segs, st.f, maxw)
			if ny + step * (len(lines) + 1) > ny1 - 6:  # room for one more (typed) line
				break
			for segs in lines:
				scr.text(fx0 + 12, ny, segs, st.f, t["text"])
				ny += step
		slots["note"] = (fx0 + 12, ny, None)
	bx = fx0
	for label, primary in ([("Speichern", True), ("Abbrechen", False), ("Drucken", False)] if de else
			[("Save", True), ("Cancel", False), ("Print", False)]):
		bx += button(scr, st, bx, by, label, primary) + 12
	statusbar(scr, st, content, ("Bereit – Vorgang %s – zuletzt geändert am %s" if de else
		"Ready – case %s – last changed %s") % (rec["ref"], rec["changed"]))
	return scr, slots


class Table:
	"""Columns laid out the way applications draw them: a header cell's
	left edge is its column's (left-aligned text), right-aligned columns
	(numbers, amounts) have their header right-aligned too; all at the
	same padding from the column edges."""

	def __init__(self, st, cols, rows, x0, maxw, drop=(), stretch=80):
		"""cols: (header, key, kind, align); rows: dicts; columns with keys
		in drop are dropped in that order until the table fits maxw; each
		column grows by up to stretch px into the room left."""
		self.st = st
		self.f = st.f
		self.hf = font("DejaVu Sans Bold", st.size)
		self.pad = max(8, st.size // 2)
		cols = list(cols)
		widths = [self.width(c, rows) for c in cols]
		for key in drop:
			if sum(widths) <= maxw:
				break
			i = next(i for i, c in enumerate(cols) if c[1] == key)
			del cols[i], widths[i]
		extra = max(0, maxw - sum(widths)) // len(cols)
		widths = [w + min(extra, stretch) for w in widths]
		self.cols, self.widths, self.x0 = cols, widths, x0
		self.xs = [x0 + sum(widths[:i]) for i in range(len(cols))]
		self.w = sum(widths)
		self.lh = line_height(self.f)

	def width(self, c, rows):
		return int(max([self.hf.getlength(c[0])] + [self.f.getlength(r[c[1]]) for r in rows])) + 2 * self.pad

	def cell_x(self, i, s, f):
		if self.cols[i][3] == "right":
			return self.xs[i] + self.widths[i] - self.pad - f.getlength(s)
		return self.xs[i] + self.pad

	def header(self, scr, y, rh, grid):
		t = self.st.t
		scr.rect((self.x0, y, self.x0 + self.w, y + rh), t["chrome"])
		scr.rect((self.x0, y + rh - 1, self.x0 + self.w, y + rh), t["border"])
		ty = y + (rh - line_height(self.hf)) // 2
		for i, (hdr, key, kind, align) in enumerate(self.cols):
			scr.text(self.cell_x(i, hdr, self.hf), ty, hdr, self.hf, t["text"])
			if i:
				scr.rect((self.xs[i] - 1, y + 3, self.xs[i], y + rh - 3), t["border"])

	def row(self, scr, y, rh, r, k, zebra, grid, dx=0):
		"""Row r (0-based k) at y on scr, whose x 0 is the table's x - dx."""
		t = self.st.t
		bg = t["stripe"] if zebra and k % 2 else t["win"]
		scr.rect((self.x0 - dx, y, self.x0 - dx + self.w, y + rh), bg)
		if grid:
			scr.rect((self.x0 - dx, y + rh - 1, self.x0 - dx + self.w, y + rh), t["border"])
			for x in self.xs[1:]:
				scr.rect((x - 1 - dx, y, x - dx, y + rh), t["border"])
		ty = y + (rh - self.lh) // 2
		for i, (hdr, key, kind, align) in enumerate(self.cols):
			scr.text(self.cell_x(i, r[key], self.f) - dx, ty, [(r[key], kind)], self.f, t["text"])

	def describe(self):
		return [dict(header=c[0], key=c[1], x=x, w=w, align=c[3], pad=self.pad)
			for c, x, w in zip(self.cols, self.xs, self.widths)]


def ledger_rows(rng, n, de):
	rows = []
	for k in range(n):
		r = record(rng)
		r["row"] = str(k + 1)
		r["due"] = synth.date(rng)
		r["pstatus"] = LEDGER_STATUS[rng.randrange(len(LEDGER_STATUS))][0 if de else 1]
		rows.append(r)
	return rows


def ledger_cols(de):
	return [
		("#", "row", None, "right"),
		("Kd-Nr." if de else "Cust. no.", "customer", "customer-no", "left"),
		("Name", "full", "name", "left"),
		("IBAN", "iban", "iban", "left"),
		("PLZ Ort" if de else "ZIP City", "city", "plz-city", "left"),
		("Fällig" if de else "Due", "due", None, "left"),
		("Status", "pstatus", None, "left"),
		("Saldo" if de else "Balance", "balance", None, "right"),
	]


def render_ledger(rng, st, nframes, step):
	"""The scrolling table: returns (static screen, body screen, table,
	viewport box, scroll bar track, extra truth)."""
	t = st.t
	de = st.lang == "de"
	ref = synth.reference_no(rng)
	scr = Screen(W, H, t["desk"])
	desktop(scr, st, rng)
	content = window(scr, st, (30, 44, W - 30, H - 20), ("Vorgang %s – Offene Posten" if de else "Case %s – Open items") % ref)
	y = menubar(scr, st, content, ["Datei", "Bearbeiten", "Ansicht", "Buchung", "Berichte", "Hilfe"] if de else
		["File", "Edit", "View", "Posting", "Reports", "Help"])
	y = toolbar(scr, st, content, y, ["Aktualisieren", "Exportieren", "Drucken"] if de else ["Refresh", "Export", "Print"],
		"Posten suchen…" if de else "Search items…")
	scr.rect((content[0], y, content[2], content[3]), t["win"])
	fy = y + 12
	x = content[0] + 14
	for lab, val in ([("Filter:", "Status = offen"), ("Zeitraum:", "01.01.2026 – 31.03.2026")] if de else
			[("Filter:", "Status = open"), ("Period:", "01.01.2026 – 31.03.2026")]):
		x = scr.text(x, fy + 4, lab, st.ui, t["label"]) + 10
		vw = int(st.ui.getlength(val)) + 20
		scr.rect((x, fy, x + vw, fy + line_height(st.ui) + 8), t["field"], outline=t["border"])
		scr.text(x + 10, fy + 4, val, st.ui, t["text"])
		x += vw + 30
	y = fy + line_height(st.ui) + 8 + 14
	lh = line_height(st.f)
	rh = lh + max(8, lh // 2)
	track_w = 14
	tx0, tx1 = content[0] + 10, content[2] - 10 - track_w
	view = (tx0, y + rh, tx1, content[3] - 28 - 8)
	vh = view[3] - view[1]
	nrows = (vh + step * max(0, nframes - 1)) // rh + 2
	rows = ledger_rows(rng, nrows, de)
	zebra = rng.random() < 0.6
	grid = rng.random() < 0.5 or not zebra
	tab = Table(st, ledger_cols(de), rows, tx0, tx1 - tx0, drop=["pstatus", "due", "city", "customer"])
	tab.header(scr, y, rh, grid)
	body = Screen(view[2] - view[0], nrows * rh, t["win"])
	for k, r in enumerate(rows):
		tab.row(body, k * rh, rh, r, k, zebra, grid, dx=tx0)
	track = (tx1 + 2, view[1], tx1 + 2 + track_w - 4, view[3])
	total = sum(int(r["balance"].replace(".", "").replace(",", "").split()[0]) for r in rows)
	statusbar(scr, st, content, ("%d Posten · Summe %s €" if de else "%d items · total %s €") % (
		len(rows), "{:,}".format(total // 100).replace(",", ".") + ",%02d" % (total % 100)))
	extra = dict(columns=tab.describe(), viewport=dict(x=view[0], y=view[1], w=view[2] - view[0], h=vh),
		header=dict(y=y, h=rh), row_h=rh, zebra=zebra, grid=grid, scroll_step=step)
	return scr, body, tab, view, track, extra


def render_bigtable(rng, st, rows_n=40):
	"""A static table of rows_n x 5 cells that fills the screen: the
	content font is made smaller if 40 rows would not fit."""
	t = st.t
	de = st.lang == "de"
	ref = synth.reference_no(rng)
	rows = []
	for k in range(rows_n):
		first, last = synth.person(rng)
		rows.append(dict(row=str(k + 1), full="%s %s" % (first, last),
			tariff=synth.TARIFFS[rng.randrange(len(synth.TARIFFS))][0 if de else 1],
			fee=synth.fee(rng), due=synth.date(rng)))
	scr = Screen(W, H, t["desk"])
	desktop(scr, st, rng)
	content = window(scr, st, (30, 44, W - 30, H - 20), ("Vorgang %s – Beitragsliste" if de else "Case %s – Premium list") % ref)
	y = content[1] + 10
	avail = content[3] - 28 - 8 - y
	size = st.size
	while size > 10 and (rows_n + 1) * (line_height(font(st.family, size)) + 4) > avail:
		size -= 1
	if size != st.size:
		st.size = size
		st.f = font(st.family, size)
	rh = min(line_height(st.f) + 12, avail // (rows_n + 1))
	cols = [("#", "row", None, "right"), ("Name", "full", "name", "left"), ("Tarif" if de else "Tariff", "tariff", None, "left"),
		("Beitrag" if de else "Premium", "fee", None, "right"), ("Fällig am" if de else "Due on", "due", None, "left")]
	tab = Table(st, cols, rows, content[0] + 10, content[2] - content[0] - 20, stretch=240)
	zebra = rng.random() < 0.6
	grid = rng.random() < 0.5 or not zebra
	scr.rect((content[0], y - 10, content[2], content[3]), t["win"])
	tab.header(scr, y, rh, grid)
	for k, r in enumerate(rows):
		tab.row(scr, y + (k + 1) * rh, rh, r, k, zebra, grid)
	statusbar(scr, st, content, ("%d Einträge" if de else "%d entries") % rows_n)
	return scr, dict(columns=tab.describe(), header=dict(y=y, h=rh), row_h=rh, zebra=zebra, grid=grid)


def change_frame(nframes):
	"""Where newform/newtable change: 2 s into the default 10 s (a fifth)."""
	return max(1, nframes // 5)


def case_frames(name, rng, nframes, lang):
	if name == "casefile":
		st = Style(rng, lang)
		scr, _ = render_casefile(rng, st, case_record(rng))
		tag(scr, "c")
		tr = truth_of(scr, dict(style=st.describe()))
		for i in range(nframes):
			yield "casefile", scr.img if i == 0 else None, tr
	elif name == "ledger":
		st = Style(rng, lang)
		step = rng.randint(5, 10)
		base, body, tab, view, track, extra = render_ledger(rng, st, nframes, step)
		tag(base, "c")
		for k, e in enumerate(body.lines):
			e["id"] = "r%d" % k
		bodyarr = np.asarray(body.img)
		basearr = np.asarray(base.img)
		vh = view[3] - view[1]
		base_tr = truth_of(base, dict(style=st.describe()))
		for i in range(nframes):
			off = i * step
			arr = basearr.copy()
			arr[view[1]:view[3], view[0]:view[2]] = bodyarr[off:off + vh]
			thumb_h = max(30, vh * vh // body.img.height)
			ty = track[1] + (vh - thumb_h) * off // max(1, body.img.height - vh)
			arr[track[1]:track[3], track[0]:track[2]] = st.t["side"]
			arr[ty:ty + thumb_h, track[0]:track[2]] = st.t["border"]
			fr = {k: list(v) for k, v in base_tr.items() if isinstance(v, list)}
			fr.update(style=st.describe(), scroll_y=off)
			fr.update(extra)
			moved = _Boxes()
			for key in ("pii", "decoys", "lines"):
				for e in getattr(body, key):
					m = clip_entry(e, view[0], view[1] - off, view)
					if m:
						getattr(moved, key).append(m)
			for key, lst in truth_of(moved).items():
				fr[key] += lst
			yield i, Image.fromarray(arr), fr
	elif name == "formtype":
		st = Style(rng, lang)
		rec = case_record(rng)
		de = st.lang == "de"
		v = case_values(rec, de)
		v["note"] = TYPED_NOTE[0 if de else 1]
		order = ["last", "first", "iban", "tariff", "note"]
		scr, slots = render_casefile(rng, st, rec, empty=set(order))
		tag(scr, "c")
		script = [(key, n) for key in order for n in range(1, len(v[key]) + 1)]
		span = max(1, nframes - nframes // 10)  # typed until the last tenth of the scene
		for i in range(nframes):
			typed = min(len(script), i * len(script) // span)
			blink = (i * 2 // 15) % 2 == 0  # 1 Hz at 15 fps
			done = {}
			for key, n in script[:typed]:
				done[key] = n
			f = scr.copy()
			cursor_at = None
			for key in order:
				x, y, kind = slots[key]
				n = done.get(key, 0)
				if n:
					xe = f.text(x, y, [(v[key][:n], kind)], st.f, st.t["text"], complete=(n == len(v[key])))
					f.lines[-1]["id"] = "typed:" + key
					cursor_at = (xe, y)
				elif cursor_at is None:
					cursor_at = (x, y)
				if n < len(v[key]):
					break
			if cursor_at and blink:
				cx, cy = int(cursor_at[0]) + 2, cursor_at[1]
				f.rect((cx, cy, cx + 2, cy + line_height(st.f)), st.t["text"])
			yield (typed, blink), f.img, truth_of(f, dict(style=st.describe(), typed=typed))
	elif name in ("newform", "newtable"):
		st_a = Style(rng, lang)
		st_b = Style(rng, lang)
		if st_b.theme_name == st_a.theme_name:  # a full change: the other theme too
			st_b.theme_name = "dark" if st_a.theme_name == "light" else "light"
			st_b.t = THEMES[st_b.theme_name]
		if name == "newform":
			a = render_mail(st_a, mail_data(rng, 10), rng.randrange(5), rng.random())
			b, _ = render_casefile(rng, st_b, case_record(rng), notes=False, nav=False)
			extra = {}
		else:
			a, _ = render_casefile(rng, st_a, case_record(rng))
			b, extra = render_bigtable(rng, st_b)
		tag(a, "a")
		tag(b, "b")
		tr_a = truth_of(a, dict(style=st_a.describe(), screen="before"))
		tr_b = truth_of(b, dict(style=st_b.describe(), screen="after"))
		tr_b.update(extra)
		c = change_frame(nframes)
		for i in range(nframes):
			if i < c:
				yield "a", a.img if i == 0 else None, tr_a
			elif i == c:
				yield "b", b.img, dict(tr_b, changed=True)
			else:
				yield "b", None, tr_b


def generate(args):
	name, out, seed, nframes, video, codec, lang = args
	d = os.path.join(out, name)
	os.makedirs(d, exist_ok=True)
	for f in os.listdir(d):
		if f.endswith(".png"):
			os.unlink(os.path.join(d, f))
	fps = SCENARIOS[name][1]
	frames = []
	written = {}  # picture key -> file holding it
	for i, (key, img, tr) in enumerate(scenario_frames(name, seed, nframes, lang)):
		fn = "%05d.png" % i
		path = os.path.join(d, fn)
		if img is not None:
			img.save(path, compress_level=1)
			written[key] = path
		else:
			shutil.copyfile(written[key], path)
		fr = dict(index=i, file=fn)
		fr.update(tr)
		frames.append(fr)
	truth = dict(version=1, scenario=name, seed=seed, width=W, height=H, fps=fps, frames=frames)
	with open(os.path.join(d, "truth.json"), "w") as f:
		f.write(json.dumps(truth, ensure_ascii=False, separators=(",", ":")))  # the C encoder: same text, faster
	if video:
		mkv = os.path.join(out, name + ".mkv")
		enc = (["-c:v", "ffv1", "-level", "3", "-pix_fmt", "bgr0"] if codec == "ffv1" else
			["-c:v", "libx264rgb", "-qp", "0", "-preset", "ultrafast", "-pix_fmt", "rgb24"])
		cmd = ["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-framerate", str(fps),
			"-i", os.path.join(d, "%05d.png")] + enc + [mkv]
		r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
		if r.returncode != 0:
			raise SystemExit("gen_corpus: ffmpeg failed for %s: %s" % (mkv, r.stderr.strip().splitlines()[-1:] or r.returncode))
	return name, len(frames)


def main(argv=None):
	ap = argparse.ArgumentParser(description="Renders the redaction test corpus (see tests/corpus/README.md).")
	ap.add_argument("--out", required=True, help="output directory")
	ap.add_argument("--scenario", action="append", choices=list(SCENARIOS) + list(GROUPS),
		help="scenario or group to render (repeatable; groups: default = the six original scenarios, "
		"agent = casefile ledger formtype newform newtable, all; no --scenario: default)")
	ap.add_argument("--seed", type=int, default=1)
	ap.add_argument("--frames", type=int, help="frames per scenario (default: per scenario, 30, 60 or 150)")
	ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="scenarios rendered in parallel")
	ap.add_argument("--video", action="store_true", help="also write OUT/NAME.mkv, lossless")
	ap.add_argument("--video-codec", choices=["ffv1", "x264rgb"], default="ffv1")
	ap.add_argument("--lang", choices=["de", "en", "seed"],
		help="language of every screen (default: drawn from the seed; the case-work scenes: de)")
	a = ap.parse_args(argv)
	if a.frames is not None and a.frames < 1:
		ap.error("--frames must be at least 1")
	names = []
	for n in a.scenario or ["default"]:
		for m in GROUPS.get(n, [n]):
			if m not in names:
				names.append(m)
	jobs = [(n, a.out, a.seed, a.frames or SCENARIOS[n][0], a.video, a.video_codec, a.lang) for n in names]
	os.makedirs(a.out, exist_ok=True)
	if a.jobs > 1 and len(jobs) > 1:
		with multiprocessing.Pool(min(a.jobs, len(jobs))) as pool:
			done = pool.map(generate, jobs)
	else:
		done = [generate(j) for j in jobs]
	for name, n in done:
		print("gen_corpus: %s: %d frames in %s" % (name, n, os.path.join(a.out, name)))
	return 0


if __name__ == "__main__":
	sys.exit(main())
