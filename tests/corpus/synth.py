"""Synthetic personal data for the redaction corpus, and the checksums
that make it realistic.

Every value here is made up from a seeded random.Random: names come from
small lists of common names, numbers are random digits with the check
digits computed as the real schemes do, so an OCR rule that validates
checksums accepts them.  The validators (iban_valid, luhn_valid,
steuer_id_valid, ausweis_valid) are written independently of the
generators' check-digit code paths where that is cheap, so the self-test
cross-checks the two.
"""
import string

FIRST_NAMES = [
	"Anna", "Lukas", "Sophie", "Maximilian", "Marie", "Jonas", "Lena", "Felix",
	"Hannah", "Paul", "Emma", "Leon", "Mia", "Finn", "Laura", "Jürgen",
	"Sabine", "Thomas", "Ursula", "Klaus", "Monika", "Stefan", "Petra", "Andreas",
	"Özlem", "Mehmet", "Katarzyna", "Oliver", "Charlotte", "James", "Emily", "Jörg",
]
LAST_NAMES = [
	"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
	"Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf",
	"Schröder", "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann",
	"Yılmaz", "Kowalski", "Smith", "Johnson", "Brown", "Lange", "Weiß", "Öztürk",
]
STREETS = [
	"Hauptstraße", "Bahnhofstraße", "Gartenstraße", "Schulstraße", "Dorfstraße",
	"Goethestraße", "Lindenweg", "Am Markt", "Bergstraße", "Kirchgasse",
	"Friedrichstr.", "Schillerplatz", "Rosenweg", "Mühlenweg", "Industriestraße",
]
CITIES = [
	("10115", "Berlin"), ("20095", "Hamburg"), ("80331", "München"), ("50667", "Köln"),
	("60311", "Frankfurt am Main"), ("70173", "Stuttgart"), ("40213", "Düsseldorf"),
	("04109", "Leipzig"), ("28195", "Bremen"), ("01067", "Dresden"), ("30159", "Hannover"),
	("90402", "Nürnberg"), ("44135", "Dortmund"), ("45127", "Essen"), ("24103", "Kiel"),
]
MAIL_DOMAINS = ["example.com", "example.org", "example.net", "example.de", "mail.example.de"]
AREA_CODES = ["30", "40", "89", "221", "69", "711", "211", "341", "421", "351", "511", "911"]
MOBILE_PREFIXES = ["151", "152", "160", "162", "170", "171", "172", "175", "176", "177", "178", "179"]

# Length of the BBAN and the character class of each of its positions:
# 'n' digit, 'a' upper-case letter, 'c' letter or digit (ISO 13616 registry).
IBAN_FORMATS = {
	"DE": "n" * 18,
	"AT": "n" * 16,
	"CH": "n" * 5 + "c" * 12,
	"GB": "a" * 4 + "n" * 14,
	"NL": "a" * 4 + "n" * 10,
	"FR": "n" * 10 + "c" * 11 + "n" * 2,
	"ES": "n" * 20,
	"IT": "a" + "n" * 10 + "c" * 12,
}


def _alnum_value(ch):
	"""0-9 for digits, 10-35 for A-Z (the mapping IBAN and ICAO 9303 share)."""
	if ch.isdigit():
		return int(ch)
	return ord(ch.upper()) - ord("A") + 10


def iban_valid(text):
	"""ISO 13616: spaces ignored, country + 2 check digits + BBAN, and the
	rearranged number mod 97 equals 1."""
	s = text.replace(" ", "").upper()
	if len(s) < 15 or len(s) > 34 or not s[:2].isalpha() or not s[2:4].isdigit():
		return False
	if not s.isalnum() or not s.isascii():
		return False
	if s[:2] in IBAN_FORMATS and len(s) != 4 + len(IBAN_FORMATS[s[:2]]):
		return False
	digits = "".join(str(_alnum_value(c)) for c in s[4:] + s[:4])
	return int(digits) % 97 == 1


def iban(rng, country=None, grouped=True):
	country = country or rng.choice(["DE", "DE", "DE", "AT", "CH", "GB", "NL", "FR"])
	bban = ""
	for cls in IBAN_FORMATS[country]:
		if cls == "n" or (cls == "c" and rng.random() < 0.7):
			bban += rng.choice(string.digits)
		else:
			bban += rng.choice(string.ascii_uppercase)
	num = "".join(str(_alnum_value(c)) for c in bban + country + "00")
	check = 98 - int(num) % 97
	s = "%s%02d%s" % (country, check, bban)
	if grouped:
		return " ".join(s[i:i + 4] for i in range(0, len(s), 4))
	return s


def luhn_valid(text):
	digits = [int(c) for c in text if c.isdigit()]
	if len(digits) < 12 or any(not (c.isdigit() or c in " -") for c in text):
		return False
	total = 0
	for i, d in enumerate(reversed(digits)):
		if i % 2 == 1:
			d *= 2
			if d > 9:
				d -= 9
		total += d
	return total % 10 == 0


def card_issuer(text):
	"""Visa, Mastercard (51-55 and 2221-2720) or Amex by prefix and length,
	else None."""
	d = "".join(c for c in text if c.isdigit())
	if d.startswith("4") and len(d) in (13, 16, 19):
		return "visa"
	if len(d) == 16 and (51 <= int(d[:2]) <= 55 or 2221 <= int(d[:4]) <= 2720):
		return "mastercard"
	if len(d) == 15 and d[:2] in ("34", "37"):
		return "amex"
	return None


def _luhn_check_digit(partial):
	# The digit that makes partial + digit pass Luhn: double every second
	# digit counted from the (future) check digit.
	total = 0
	for i, c in enumerate(reversed(partial)):
		d = int(c)
		if i % 2 == 0:
			d = d * 2 - 9 if d * 2 > 9 else d * 2
		total += d
	return str((10 - total % 10) % 10)


def card(rng, valid=True):
	"""A grouped card number with a real issuer prefix; valid=False breaks
	the Luhn digit (the issuer prefix stays plausible)."""
	kind = rng.choice(["visa", "mc5", "mc2", "amex"])
	if kind == "visa":
		body = "4" + "".join(rng.choice(string.digits) for _ in range(14))
	elif kind == "mc5":
		body = str(rng.randint(51, 55)) + "".join(rng.choice(string.digits) for _ in range(13))
	elif kind == "mc2":
		body = str(rng.randint(2221, 2720)) + "".join(rng.choice(string.digits) for _ in range(11))
	else:
		body = rng.choice(["34", "37"]) + "".join(rng.choice(string.digits) for _ in range(12))
	check = _luhn_check_digit(body)
	if not valid:
		check = str((int(check) + rng.randint(1, 9)) % 10)
	d = body + check
	if len(d) == 15:
		return "%s %s %s" % (d[:4], d[4:10], d[10:])
	return " ".join(d[i:i + 4] for i in range(0, 16, 4))


def steuer_id_valid(text):
	"""German tax id (Steuerliche Identifikationsnummer): 11 digits, no
	leading 0; in the first 10 digits exactly one digit occurs twice or
	three times (three times never in three adjacent places), all others
	at most once; digit 11 is the ISO 7064 MOD 11,10 check digit."""
	s = text.replace(" ", "")
	if len(s) != 11 or not s.isdigit() or s[0] == "0":
		return False
	head = s[:10]
	counts = [head.count(d) for d in string.digits]
	multi = [c for c in counts if c > 1]
	if len(multi) != 1 or multi[0] > 3:
		return False
	if multi[0] == 3:
		for i in range(8):
			if head[i] == head[i + 1] == head[i + 2]:
				return False
	product = 10
	for c in head:
		total = (int(c) + product) % 10
		if total == 0:
			total = 10
		product = (total * 2) % 11
	check = 11 - product
	if check == 10:
		check = 0
	return check == int(s[10])


def steuer_id(rng, grouped=True):
	while True:
		digits = rng.sample(string.digits, 9)
		twice = rng.choice(digits)
		digits.insert(rng.randrange(10), twice)
		if rng.random() < 0.3:  # the three-times variant (allowed since 2016)
			digits[rng.randrange(10)] = twice
		head = "".join(digits)
		for check in string.digits:
			if steuer_id_valid(head + check):
				s = head + check
				if grouped:
					return "%s %s %s %s" % (s[:2], s[2:5], s[5:8], s[8:])
				return s
		# no digit fits when the digit rule failed (leading 0, triple run)


# Serial numbers of the German identity card (since 2010): the first
# character is a letter of the authority range, then letters of a set
# without vowels and look-alikes, or digits.
AUSWEIS_FIRST = "LMNPRTVWXY"
AUSWEIS_CHARS = "CFGHJKLMNPRTVWXYZ0123456789"


def ausweis_valid(text):
	"""9 alphanumeric characters then the ICAO 9303 check digit (weights
	7, 3, 1 repeating, sum mod 10)."""
	s = text.replace(" ", "").upper()
	if len(s) != 10 or not s.isalnum() or not s[9].isdigit():
		return False
	total = sum(_alnum_value(c) * (7, 3, 1)[i % 3] for i, c in enumerate(s[:9]))
	return total % 10 == int(s[9])


def ausweis(rng):
	s = rng.choice(AUSWEIS_FIRST) + "".join(rng.choice(AUSWEIS_CHARS) for _ in range(8))
	for check in string.digits:
		if ausweis_valid(s + check):
			return s + check
	raise AssertionError("no 7-3-1 digit for " + s)


def person(rng):
	return rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)


def _ascii_name(s):
	for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss"), ("Ä", "Ae"), ("Ö", "Oe"),
			("Ü", "Ue"), ("ı", "i")):
		s = s.replace(a, b)
	return s.lower()


def email(rng, first, last):
	f, l = _ascii_name(first), _ascii_name(last)
	user = rng.choice(["%s.%s" % (f, l), "%s.%s" % (f[0], l), "%s%s" % (f, l), "%s_%s%d" % (l, f[0], rng.randint(1, 99))])
	return "%s@%s" % (user, rng.choice(MAIL_DOMAINS))


def phone(rng):
	kind = rng.randrange(6)
	sub = "".join(rng.choice(string.digits) for _ in range(rng.randint(6, 8)))
	area = rng.choice(AREA_CODES)
	mobile = rng.choice(MOBILE_PREFIXES)
	if kind == 0:
		return "+49 %s %s" % (area, sub)
	if kind == 1:
		return "0%s %s" % (area, sub)
	if kind == 2:
		return "(0%s) %s-%s" % (area, sub[:-2], sub[-2:])
	if kind == 3:
		return "+49 (0)%s %s" % (mobile, sub[:7])
	if kind == 4:
		return "0%s/%s" % (mobile, sub[:7])
	return "+44 20 7946 0%s" % sub[:3]  # UK numbers reserved for drama


def street(rng):
	return "%s %d%s" % (rng.choice(STREETS), rng.randint(1, 180), rng.choice(["", "", "", "a", "b"]))


def plz_city(rng):
	plz, city = rng.choice(CITIES)
	return "%s %s" % (plz, city)


def customer_no(rng):
	return rng.choice(["KD-%d-%06d", "K%d%06d", "CUST-%d-%06d"]) % (rng.randint(2015, 2026), rng.randint(1, 999999))


def account_no(rng):
	return "%010d" % rng.randint(10 ** 8, 10 ** 10 - 1)


def birthdate(rng):
	return "%02d.%02d.%d" % (rng.randint(1, 28), rng.randint(1, 12), rng.randint(1940, 2005))


def amount(rng):
	v = rng.randint(100, 9999999)
	euros = "{:,}".format(v // 100).replace(",", ".")
	return "%s,%02d €" % (euros, v % 100)


def date(rng):
	return "%02d.%02d.2026" % (rng.randint(1, 28), rng.randint(1, 12))


# Values of the case-work scenes (casefile, ledger, ...) that are not
# personal data: reference numbers of a case, tariffs, contract dates, fees.
TARIFFS = [("Komfort Plus", "Comfort Plus"), ("Basis", "Basic"), ("Premium", "Premium"), ("Kompakt", "Compact"),
	("Familie Plus", "Family Plus"), ("Start Online", "Start Online"), ("Klassik", "Classic")]


def reference_no(rng):
	"""A case reference ("Vorgang 4711"): 4 or 5 digits, no check digit."""
	return str(rng.randint(1000, 99999) if rng.random() < 0.3 else rng.randint(1000, 9999))


def contract_date(rng):
	return "%02d.%02d.%d" % (rng.randint(1, 28), rng.randint(1, 12), rng.randint(2012, 2026))


def fee(rng):
	v = rng.randint(500, 49999)
	return "%d,%02d €" % (v // 100, v % 100)
