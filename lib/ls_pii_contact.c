/* ls_pii_contact — the detectors of contact data: e-mail addresses, phone
 * numbers, street addresses, PLZ + city. */
#include "ls_pii_private.h"

#include <stdbool.h>
#include <string.h>

/* ---------------------------------------------------------------- e-mail */

static bool is_local_char(int c)
{
	return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-' || (c & 0x80);
}

static bool is_dom_char(int c) { return is_alnum(c) || c == '-' || (c & 0x80); }

void pii_scan_email(const struct rule *r, const char *line, int len, struct cands *c)
{
	for (int i = 0; i < len; i++) {
		int at = 0;
		if (line[i] == '@')
			at = 1;
		else if ((line[i] == '(' || line[i] == '[') && i + 3 < len && low((unsigned char)line[i + 1]) == 'a' &&
			 low((unsigned char)line[i + 2]) == 't' && line[i + 3] == (line[i] == '(' ? ')' : ']'))
			at = 4; /* name(at)example.com */
		else if ((unsigned char)line[i] == 0xc2 && i + 1 < len &&
			 ((unsigned char)line[i + 1] == 0xa9 || (unsigned char)line[i + 1] == 0xae))
			at = 2; /* © or ® for @ */
		if (!at)
			continue;
		int l = i;
		bool spl = false, spr = false;
		if (l > 0 && line[l - 1] == ' ') {
			l--;
			spl = true;
		}
		int s = l;
		while (s > 0 && is_local_char((unsigned char)line[s - 1]))
			s--;
		/* "erika. mustermann@" / "erika _mustermann@": OCR split the local part */
		while (s >= 2 && line[s - 1] == ' ' &&
		       ((s < l && (line[s] == '.' || line[s] == '_' || line[s] == '-')) || line[s - 2] == '.' ||
			line[s - 2] == '_' || line[s - 2] == '-') &&
		       is_local_char((unsigned char)line[s - 2])) {
			s--;
			while (s > 0 && is_local_char((unsigned char)line[s - 1]))
				s--;
		}
		/* "weiss 5_j15@", "brown, u58@": a short tail with digits after a
		 * space is likely the end of a local part OCR split; take the word
		 * before ("an info@" stays as it is) */
		bool fragment = false; /* digits or a leading '_'/'.': not a whole local part */
		for (int k = s; k < l; k++)
			fragment |= is_digit((unsigned char)line[k]) || (k == s && (line[k] == '_' || line[k] == '.'));
		if (fragment && l - s <= 10 && s >= 2 && line[s - 1] == ' ') {
			int q = s - 1;
			if (q > 0 && line[q - 1] == ',')
				q--;
			int b = q;
			while (b > 0 && is_local_char((unsigned char)line[b - 1]))
				b--;
			if (b < q && is_lower((unsigned char)line[b]))
				s = b;
		}
		while (s < l && line[s] == '.')
			s++;
		if (s == l)
			continue;
		int p = i + at;
		if (p < len && line[p] == ' ') {
			p++;
			spr = true;
		}
		int e = p, dots = 0, lastlab = p;
		while (e < len && is_dom_char((unsigned char)line[e])) {
			while (e < len && is_dom_char((unsigned char)line[e]))
				e++;
			/* "examp le.net": OCR put a space inside a label; joined when
			 * a lower-case run and then a dot follow */
			if (e + 1 < len && line[e] == ' ' && is_lower((unsigned char)line[e + 1])) {
				int k = e + 1;
				while (k < len && is_dom_char((unsigned char)line[k]))
					k++;
				if (k < len &&
				    (line[k] == '.' || (line[k] == ' ' && k + 1 < len && line[k + 1] == '.')))
					e = k;
			}
			/* a dot (or a comma OCR'd for a dot), maybe with one space on each side */
			int q = e;
			bool sp = false;
			if (q + 1 < len && line[q] == ' ' && line[q + 1] == '.')
				q++;
			if (q < len && (line[q] == '.' || line[q] == ',')) {
				q++;
				if (q + 1 < len && line[q] == ' ' && line[q - 1] == '.') {
					q++;
					sp = true; /* "example. com": only before a lower-case label */
				}
				if (q < len && is_dom_char((unsigned char)line[q]) &&
				    (!sp || is_lower((unsigned char)line[q]))) {
					dots++;
					lastlab = q;
					e = q;
					continue;
				}
			}
			break;
		}
		if (e == p)
			continue;
		bool tld = e - lastlab >= 2;
		for (int k = lastlab; k < e && tld; k++)
			tld = is_letterb((unsigned char)line[k]);
		float conf;
		if (dots > 0 && tld)
			conf = at != 2 ? r->conf : r->low; /* © or ® for @: OCR damage or a symbol */
		else if (spl && spr)
			continue; /* "A @ B" with no domain: not an address */
		else
			conf = r->low;
		pii_add(c, s, e, r, conf);
		i = e - 1;
	}
}

/* ----------------------------------------------------------------- phone */

void pii_scan_phone(const struct rule *r, const char *line, int len, struct cands *c)
{
	float mid = (r->conf + r->low) / 2;
	for (int i = 0; i < len; i++) {
		int ch = (unsigned char)line[i];
		bool ocr_start = !is_digit(ch) && ocr_digit(ch) >= 0 && i + 1 < len &&
				 is_digit((unsigned char)line[i + 1]);
		if (!(ch == '+' || ch == '(' || is_digit(ch) || ocr_start))
			continue;
		if (i > 0) {
			int pv = (unsigned char)line[i - 1];
			if (is_wordb(pv) || pv == '+' || pv == '.' || pv == ',' || pv == '/' || pv == '-' || pv == ':')
				continue;
			/* the middle of a longer number (an IBAN, a card) is no phone number */
			if (ch != '+' && i >= 2 && pv == ' ' && is_alnum((unsigned char)line[i - 2]) &&
			    (is_digit((unsigned char)line[i - 2]) || (i >= 3 && is_digit((unsigned char)line[i - 3]))))
				continue;
		}
		int p = i;
		bool plus = false, paren = false, dot = false, slash = false;
		bool pend_dot = false; /* a '.' counts once a digit follows it: a sentence's full stop does not */
		if (line[p] == '+') {
			plus = true;
			p++;
			if (p < len && line[p] == ' ')
				p++;
		}
		char d[24] = { 0 };
		int nd = 0, ng = 0, glen[24] = { 0 }, last = -1, sepn = 0, paren_len = 0;
		bool ingroup = false;
		while (p < len) {
			int x = (unsigned char)line[p];
			/* OCR'd digits inside a group, or starting one before a real digit */
			bool ctx = ingroup || (p + 1 < len && is_digit((unsigned char)line[p + 1])) ||
				   (p > 0 && line[p - 1] == '(' && p + 1 < len && line[p + 1] == ')'); /* +49 (O)30 */
			int v = is_digit(x) ? x : (ctx && x != '!' ? ocr_digit(x) : -1);
			if (v >= 0 && !(is_alpha(x) && p + 1 < len && is_alpha((unsigned char)line[p + 1]))) {
				if (nd >= 20)
					break;
				if (!ingroup) {
					if (ng >= 23)
						break;
					ng++;
					ingroup = true;
					dot |= pend_dot;
				}
				d[nd++] = (char)v;
				glen[ng - 1]++;
				last = p;
				sepn = 0;
				p++;
				continue;
			}
			if (x == ' ' || x == '-' || x == '/' || x == '(' || x == ')' || x == '.') {
				if (++sepn > 3)
					break;
				if (x == '(' && nd == 0)
					paren = true;
				if (x == ')' && paren && ng == 1)
					paren_len = glen[0];
				pend_dot |= x == '.';
				slash |= x == '/';
				ingroup = false;
				p++;
				continue;
			}
			break;
		}
		if (last < 0 || (last + 1 < len && is_letterb((unsigned char)line[last + 1])))
			continue;
		int end = last + 1;
		float conf = 0;
		bool date = !plus && ((ng == 3 && glen[0] <= 2 && glen[1] <= 2 && (glen[2] == 2 || glen[2] == 4)) ||
				      (ng == 3 && glen[0] == 4 && glen[1] == 2 && glen[2] == 2) ||
				      (ng == 2 && glen[0] <= 2 && (glen[1] == 4 || glen[1] == 2) && slash));
		if (plus) {
			if (nd >= 7 && nd <= 15 && d[0] != '0')
				conf = r->conf;
		} else if (date) {
			conf = 0;
		} else if (nd >= 10 && nd <= 15 && d[0] == '0' && d[1] == '0' && d[2] != '0' && !dot) {
			conf = r->conf; /* 0049 ... */
		} else if (paren && paren_len >= 3 && paren_len <= 5 && nd - paren_len >= 5 && nd <= 13 && !dot) {
			conf = mid; /* (030) 12 34 56, (555) 123-4567 */
		} else if (nd >= 6 && nd <= 13 && d[0] == '0' && d[1] != '0' && !dot) {
			if (ng >= 2 && glen[0] >= 3 && glen[0] <= 6)
				conf = mid; /* 030 1234567, 0151-12345678, 030/1234567 */
			else if (nd >= 10)
				conf = r->low; /* 01511234567, 0 30 1234567 */
		} else if (ng == 3 && glen[0] == 3 && glen[1] == 3 && glen[2] == 4 && d[0] != '0') {
			conf = r->low; /* 555-123-4567, 555.123.4567 */
		}
		if (conf > 0) {
			pii_add(c, i, end, r, conf);
			i = end - 1;
		}
	}
}

/* ---------------------------------------------------------------- street */

struct suffix {
	const char *s;
	int n;
};
#define SFX(x)                        \
	{                             \
		x, (int)sizeof(x) - 1 \
	}
static const struct suffix street_de[] = {
	SFX("strasse"), SFX("strase"), SFX("strabe"), SFX("stra8e"), SFX("str"),       SFX("weg"),      SFX("platz"),
	SFX("allee"),   SFX("gasse"),  SFX("ring"),   SFX("damm"),   SFX("ufer"),      SFX("chaussee"), SFX("steig"),
	SFX("pfad"),    SFX("markt"),  SFX("stieg"),  SFX("kamp"),   SFX("promenade"), SFX("wall"),     SFX("graben"),
	SFX("hof"),     SFX("berg"),   SFX("tal"),    SFX("feld"),   SFX("garten"),    SFX("park"),     SFX("brucke"),
	SFX("tor"),     SFX("gracht"), { NULL, 0 },
};
/* clang-format off */
static const char *const street_en[] = {
	"street", "st", "road", "rd", "avenue", "ave", "lane", "ln", "drive", "dr", "boulevard", "blvd",
	"court", "ct", "way", "place", "pl", "close", "crescent", "terrace", "square", "sq", "row", "mews",
	"gardens", "parkway", "highway", NULL,
};
/* clang-format on */

/* Abbreviations that are also titles or words: only with a house number. */
static const char *const street_en_title[] = { "dr", "ct", "pl", "ln", "sq", "row", "close", "way", NULL };

/** The folded word ends with a suffix of @list; returns that suffix's length
 *  (and whether the word is the suffix alone in *whole), or 0. */
static int suffix_of(const char *w, int n, const struct suffix *list, bool *whole)
{
	for (int k = 0; list[k].s; k++) {
		int m = list[k].n;
		if (m <= n && w[n - 1] == list[k].s[m - 1] && memcmp(w + n - m, list[k].s, (size_t)m) == 0) {
			*whole = m == n;
			return m;
		}
	}
	return 0;
}

/** A house number token: 1-4 digits (OCR-repaired), optional letter, optional
 *  -N or /N part. */
static bool house_number(const char *line, const struct tok *t)
{
	int p = t->s, nd = 0, real = 0;
	while (p < t->e && ocr_digit((unsigned char)line[p]) >= 0 &&
	       !(p > t->s && is_alpha((unsigned char)line[p]) && p + 1 == t->e)) {
		real += is_digit((unsigned char)line[p]);
		nd++;
		p++;
	}
	if (nd < 1 || nd > 4)
		return false;
	/* no real digit: only a one-digit number OCR'd as a capital or l ("Weg S", "Weg Gb", "Weg lb") */
	if (real == 0 && !(nd == 1 && (is_upper((unsigned char)line[t->s]) || line[t->s] == 'l') && t->e - t->s <= 2))
		return false;
	if (p < t->e && is_alpha((unsigned char)line[p]))
		p++;
	if (p < t->e && line[p] == '-') {
		p++;
		while (p < t->e && is_digit((unsigned char)line[p]))
			p++;
		if (p < t->e && is_alpha((unsigned char)line[p]))
			p++;
	}
	return p == t->e;
}

void pii_scan_street(const struct rule *r, const char *line, int len, const struct tok *t, int nt, struct cands *c)
{
	char w[64];
	for (int i = 0; i < nt; i++) {
		if ((t[i].flags & TK_ALPHA) && (t[i].flags & TK_DIGIT) && (t[i].flags & TK_CAP)) {
			/* "Lindenstraße12": OCR lost the space before the number */
			int k = t[i].s;
			while (k < t[i].e && !is_digit((unsigned char)line[k]))
				k++;
			/* an OCR'd digit glued on: "HauptstraßeS3" (capital or l before a digit) */
			while (k - t[i].s > 4 && ocr_digit((unsigned char)line[k - 1]) >= 0 &&
			       (is_upper((unsigned char)line[k - 1]) || line[k - 1] == 'l') &&
			       !is_upper((unsigned char)line[k - 2]))
				k--;
			struct tok num = { k, t[i].e, 0 };
			bool whole;
			if (k - t[i].s >= 3 && house_number(line, &num) &&
			    pii_fold_word(line, t[i].s, k, w, sizeof w) > 0 &&
			    suffix_of(w, (int)strlen(w), street_de, &whole)) {
				int s = t[i].s;
				if (whole && i > 0 && pii_gap_spaces(line, t[i - 1].e, t[i].s, 1) &&
				    (t[i - 1].flags & TK_ALPHA))
					s = t[i - 1].s; /* "Am Markt4" */
				pii_add(c, s, t[i].e, r, r->conf);
			}
			continue;
		}
		if (!(t[i].flags & TK_ALPHA) || (t[i].flags & TK_DIGIT))
			continue;
		int n = pii_fold_word(line, t[i].s, t[i].e, w, sizeof w);
		if (n < 2)
			continue;
		bool whole = false;
		/* German: [Adjective] Street-word house-number */
		if (suffix_of(w, n, street_de, &whole) && i + 1 < nt && (t[i].flags & TK_CAP || (whole && i > 0))) {
			int gap_s = t[i].e, gap_e = t[i + 1].s;
			if (gap_s < len && line[gap_s] == '.')
				gap_s++;
			bool gap_ok = gap_e == gap_s ? gap_s > t[i].e
						     : pii_gap_spaces(line, gap_s, gap_e, 2) ||
							       (gap_e - gap_s == 2 && line[gap_s] == ',' &&
								line[gap_s + 1] == ' ');
			if (gap_ok && house_number(line, &t[i + 1])) {
				int s = t[i].s;
				if (whole && i > 0 && pii_gap_spaces(line, t[i - 1].e, t[i].s, 1) &&
				    (t[i - 1].flags & TK_ALPHA))
					s = t[i - 1].s;
				else if (whole && !(t[i].flags & TK_CAP))
					continue;
				pii_add(c, s, t[i + 1].e, r, r->conf);
				i++;
				continue;
			}
		}
		/* English: number Name [Name] Street-word  |  Name Street-word (no number) */
		if ((t[i].flags & TK_CAP) && in_list(w, street_en) && i > 0) {
			int j = i - 1, s = -1;
			while (j >= 0 && i - j <= 3 && (t[j].flags & TK_CAP) && !(t[j].flags & TK_DIGIT) &&
			       pii_gap_spaces(line, t[j].e, t[j + 1].s, 1))
				j--;
			int e = t[i].e + (t[i].e < len && line[t[i].e] == '.');
			if (j >= 0 && j < i - 1 && house_number(line, &t[j]) &&
			    pii_gap_spaces(line, t[j].e, t[j + 1].s, 1)) {
				s = t[j].s;
				pii_add(c, s, e, r, r->conf);
			} else if (j + 1 < i && !in_list(w, street_en_title)) {
				pii_add(c, t[j + 1].s, e, r, r->low);
			}
		}
	}
}

/* --------------------------------------------------------- PLZ + city */

/* clang-format off */
static const char *const not_city[] = {
	"euro", "eur", "usd", "chf", "stuck", "stk", "mio", "tsd", "mal", "punkte", "seiten", "zeilen", NULL,
};
/* clang-format on */
/* clang-format off */
/* words that say the number after them is a reference, not a postcode
 * ("Vorgang 12345 Kundenakte", "Rechnung Nr. 40213 Mahnung") */
static const char *const reference_word[] = {
	"vorgang", "nr", "no", "auftrag", "rechnung", "bestellung", "ticket", "fall", "akte", "beleg", "lieferschein",
	"position", "pos", "seite", "zeile", "version", "order", "invoice", "case", "ref", "page", "row", "item", "id",
	"artikel", "los", "charge", "projekt", "project", "vorgangsnummer", "belegnummer", "rechnungsnummer", NULL,
};
/* clang-format on */
/* clang-format off */
static const char *const city_particle[] = {
	"am", "an", "der", "im", "in", "a", "i", "ob", "bei", "vor", "d", "upon", "on", NULL,
};
/* clang-format on */

static int plz_city_words(const char *line, int len, const struct tok *t, int nt, int i, int j, int s,
			  const struct rule *r, struct cands *c);

void pii_scan_plz(const struct rule *r, const char *line, int len, const struct tok *t, int nt, struct cands *c)
{
	char w[64];
	for (int i = 0; i < nt; i++) {
		int s = t[i].s, p = s;
		if (line[p] == 'D' && p + 1 < t[i].e && line[p + 1] == '-')
			p += 2;
		else if (line[p] == 'D' && p + 2 < t[i].e && line[p + 1] == 'E' && line[p + 2] == '-')
			p += 3;
		if (t[i].e - p > 6 && pii_is_cap_at(line, len, p + 5)) {
			/* "10115Berlin": OCR lost the space; the rest is a word */
			int real = 0;
			for (int k = 0; k < 5; k++) {
				real += is_digit((unsigned char)line[p + k]);
				if (ocr_digit((unsigned char)line[p + k]) < 0)
					real = -9;
			}
			for (int k = p + 5; k < t[i].e; k++)
				if (is_digit((unsigned char)line[k]))
					real = 0;
			int l6 = (unsigned char)line[p + 6];
			if (!(is_lower(l6) || (l6 & 0x80)))
				real = 0;
			if (real < 4 ||
			    (ocr_digit((unsigned char)line[p]) == '0' && ocr_digit((unsigned char)line[p + 1]) == '0'))
				continue;
			i = plz_city_words(line, len, t, nt, i, i, s, r, c);
			continue;
		}
		if (t[i].e - p != 5)
			continue;
		char d[5];
		int real = 0;
		bool ok = true;
		for (int k = 0; k < 5 && ok; k++) {
			int v = ocr_digit((unsigned char)line[p + k]);
			ok = v >= 0;
			d[k] = (char)v;
			real += is_digit((unsigned char)line[p + k]);
		}
		if (!ok || real < 4 || (d[0] == '0' && d[1] == '0') || i + 1 >= nt)
			continue;
		if (i > 0 && s - t[i - 1].e <= 3 && !(t[i - 1].flags & TK_DIGIT) &&
		    pii_fold_word(line, t[i - 1].s, t[i - 1].e, w, sizeof w) > 0 && in_list(w, reference_word))
			continue; /* a reference number */
		if (!pii_gap_spaces(line, t[i].e, t[i + 1].s, 2) || !(t[i + 1].flags & TK_CAP) ||
		    (t[i + 1].flags & TK_DIGIT) || t[i + 1].e - t[i + 1].s < 2)
			continue;
		if (pii_fold_word(line, t[i + 1].s, t[i + 1].e, w, sizeof w) < 0 || in_list(w, not_city))
			continue;
		i = plz_city_words(line, len, t, nt, i, i + 1, s, r, c);
	}
}

/** Masks from @s over the city that ends, so far, with token @j (the PLZ is
 *  token @i), adding further city words; returns the last token used. */
static int plz_city_words(const char *line, int len, const struct tok *t, int nt, int i, int j, int s,
			  const struct rule *r, struct cands *c)
{
	char w[64];
	int e = t[j].e;
	/* more words of the city: capitalized, a particle before one, (Saale) */
	while (j + 1 < nt && j - i < 4) {
		int gs = t[j].e, ge = t[j + 1].s;
		bool par = ge - gs == 2 && line[gs] == ' ' && line[gs + 1] == '(';
		if (!(pii_gap_spaces(line, gs, ge, 1) || par))
			break;
		if (t[j + 1].flags & TK_DIGIT)
			break;
		if (t[j + 1].flags & TK_CAP) {
			j++;
			e = t[j].e + (par && t[j].e < len && line[t[j].e] == ')');
			continue;
		}
		if (pii_fold_word(line, t[j + 1].s, t[j + 1].e, w, sizeof w) > 0 && in_list(w, city_particle) &&
		    j + 2 < nt && (t[j + 2].flags & TK_CAP) && pii_gap_spaces(line, t[j + 1].e, t[j + 2].s, 1)) {
			j += 2;
			e = t[j].e;
			continue;
		}
		/* "amMain": a particle glued to the next word */
		int k = t[j + 1].s;
		while (k < t[j + 1].e && is_lower((unsigned char)line[k]))
			k++;
		if (k < t[j + 1].e && k - t[j + 1].s <= 3 && pii_is_cap_at(line, len, k) &&
		    pii_fold_word(line, t[j + 1].s, k, w, sizeof w) > 0 && in_list(w, city_particle)) {
			j++;
			e = t[j].e;
			continue;
		}
		break;
	}
	pii_add(c, s, e, r, r->conf);
	return j;
}
