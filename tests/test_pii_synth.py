"""The personal-data rules (lib/ls_pii.c, rules/pii.rules) against the
redaction corpus's synthetic data (tests/corpus/synth.py): every value, with
and without its label, clean and with OCR damage, must be masked.

Usage: test_pii_synth.py PII_TOOL SOURCE_ROOT (TAP output)."""
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402

SUITE = tap.Suite()
TOOL, ROOT = sys.argv[1], sys.argv[2]
RULES = os.path.join(ROOT, "rules", "pii.rules")
N = 300

LABELS = {
    "iban": ["IBAN: ", "", "Konto "], "card": ["Kreditkarte: ", "Credit card: ", ""],
    "steuer_id": ["Steuer-ID: ", "Tax ID: ", ""], "ausweis": ["Ausweisnummer: ", "ID card no.: ", ""],
    "email": ["E-Mail: ", ""], "phone": ["Telefon: ", "Mobil: ", "Phone: ", ""],
    "street": ["Straße: ", "Street: ", ""], "plz_city": [""],
    "person": ["Name: ", "Kontoinhaber: ", "Account holder: ", ""],
    "customer_no": ["Kundennummer: ", "Customer no.: "], "account_no": ["Kontonummer: ", "Account no.: "],
    "birthdate": ["Geburtsdatum: ", "Date of birth: "],
}
TAILS = ["", "", " bis 2026", " | Status: aktiv", " gespeichert"]
CONFUSE = {"0": "O", "1": "l", "5": "S", "8": "B", "2": "Z", "6": "G"}


def synth():
    path = os.path.join(ROOT, "tests", "corpus")
    if not os.path.exists(os.path.join(path, "synth.py")):
        raise tap.SkipTest("tests/corpus/synth.py not in this tree")
    sys.path.insert(0, path)
    import synth as s
    return s


def values(s, rng):
    first, last = s.person(rng)
    return {
        "iban": s.iban(rng), "card": s.card(rng), "steuer_id": s.steuer_id(rng), "ausweis": s.ausweis(rng),
        "email": s.email(rng, first, last), "phone": s.phone(rng), "street": s.street(rng),
        "plz_city": s.plz_city(rng), "person": first + " " + last, "customer_no": s.customer_no(rng),
        "account_no": s.account_no(rng), "birthdate": s.birthdate(rng),
    }


def damage(v, rng):
    """One OCR confusion, a lost space now and then, lost umlauts."""
    idx = [i for i, ch in enumerate(v) if ch in CONFUSE]
    if idx:
        i = rng.choice(idx)
        v = v[:i] + CONFUSE[v[i]] + v[i + 1:]
    if " " in v and rng.random() < 0.3:
        i = rng.choice([i for i, ch in enumerate(v) if ch == " "])
        v = v[:i] + v[i + 1:]
    if rng.random() < 0.5:
        v = v.replace("ä", "a").replace("ö", "o").replace("ü", "u")
    return v


def run(damaged, seed):
    s = synth()
    rng = random.Random(seed)
    cases = []
    for _ in range(N):
        for kind, v in values(s, rng).items():
            if damaged:
                v = damage(v, rng)
            label = rng.choice(LABELS[kind])
            cases.append((kind, label, v, label + v + rng.choice(TAILS)))
    text = "".join(c[3] + "\n" for c in cases)
    out = subprocess.run([TOOL, RULES], input=text.encode(), capture_output=True, check=True).stdout.decode()
    rows = out.split("\n")[:len(cases)]
    leaks = {}
    for (kind, label, v, line), row in zip(cases, rows):
        start = len(label.encode())
        end = start + len(v.encode())
        masked = set()
        for r in row.split():
            a, b = r.split(":")[0].split("-")
            masked.update(range(int(a), int(b)))
        raw = line.encode()
        if any(i not in masked and raw[i:i + 1] != b" " for i in range(start, end)):
            leaks.setdefault(kind, []).append(line)
    return len(cases), leaks


@SUITE.test
def clean_values_all_masked():
    total, leaks = run(False, 1)
    for kind, lines in leaks.items():
        print("# leak %s: %d, e.g. %r" % (kind, len(lines), lines[:3]))
    assert not leaks, "clean synthetic values left unmasked"
    print("# %d clean values, all masked" % total)


@SUITE.test
def ocr_damaged_values_masked():
    total, leaks = run(True, 2)
    n = sum(len(v) for v in leaks.values())
    for kind, lines in leaks.items():
        print("# leak %s: %d, e.g. %r" % (kind, len(lines), lines[:3]))
    print("# %d damaged values, %d with a byte unmasked" % (total, n))
    assert n * 200 <= total, "more than 0.5 %% of damaged values leak (%d of %d)" % (n, total)


if __name__ == "__main__":
    sys.exit(SUITE.run())
