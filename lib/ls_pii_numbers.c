/* ls_pii_numbers — the detectors of numbers with a check digit or a fixed
 * shape: IBAN (mod 97), card (Luhn + issuer ranges), Steuer-ID (ISO 7064
 * MOD 11,10), Personalausweis (7-3-1) and MRZ lines, BIC. */
#include "ls_pii_private.h"

#include <stdbool.h>
#include <string.h>

/* ------------------------------------------------------------------- IBAN */

struct iban_country {
	char cc[3];
	unsigned char len;
	const char *fmt; /* BBAN: n = digits, a = letters, c = alphanumerics; count follows */
};
/* ISO 13616 / SWIFT IBAN registry lengths and BBAN formats. */
static const struct iban_country iban_countries[] = {
	{ "AT", 20, "n16" },     { "BE", 16, "n12" },      { "BG", 22, "a4n6c8" },   { "CH", 21, "n5c12" },
	{ "CY", 28, "n8c16" },   { "CZ", 24, "n20" },      { "DE", 22, "n18" },      { "DK", 18, "n14" },
	{ "EE", 20, "n16" },     { "ES", 24, "n20" },      { "FI", 18, "n14" },      { "FR", 27, "n10c11n2" },
	{ "GB", 22, "a4n14" },   { "GR", 27, "n7c16" },    { "HR", 21, "n17" },      { "HU", 28, "n24" },
	{ "IE", 22, "a4n14" },   { "IS", 26, "n22" },      { "IT", 27, "a1n10c12" }, { "LI", 21, "n5c12" },
	{ "LT", 20, "n16" },     { "LU", 20, "n3c13" },    { "LV", 21, "a4c13" },    { "MC", 27, "n10c11n2" },
	{ "MT", 31, "a4n5c18" }, { "NL", 18, "a4n10" },    { "NO", 15, "n11" },      { "PL", 28, "n24" },
	{ "PT", 25, "n21" },     { "RO", 24, "a4c16" },    { "SE", 24, "n20" },      { "SI", 19, "n15" },
	{ "SK", 24, "n20" },     { "SM", 27, "a1n10c12" }, { "TR", 26, "n6c16" },
};

static const struct iban_country *iban_country(int a, int b)
{
	for (size_t i = 0; i < sizeof iban_countries / sizeof iban_countries[0]; i++)
		if (iban_countries[i].cc[0] == a && iban_countries[i].cc[1] == b)
			return &iban_countries[i];
	return NULL;
}

/** ISO 7064 MOD 97-10 over the rearranged IBAN @s (upper-case alnum, @n chars). */
static bool iban_mod97(const char *s, int n)
{
	unsigned rem = 0;
	for (int k = 0; k < n; k++) {
		int c = s[(k + 4) % n];
		if (is_digit(c))
			rem = (rem * 10 + (unsigned)(c - '0')) % 97;
		else if (is_upper(c))
			rem = (rem * 100 + (unsigned)(c - 'A' + 10)) % 97;
		else
			return false;
	}
	return rem == 1;
}

/** Repairs @raw (the n chars of a candidate IBAN of country @co) into @out by
 *  its format: digits where digits must be, letters where letters must be.
 *  Returns false if some position cannot be repaired. */
static bool iban_repair(const char *raw, int n, const struct iban_country *co, char *out)
{
	if (n != co->len)
		return false;
	out[0] = co->cc[0];
	out[1] = co->cc[1];
	for (int k = 2; k < 4; k++)
		if ((out[k] = (char)ocr_digit(raw[k])) < 0)
			return false;
	int k = 4;
	for (const char *f = co->fmt; *f;) {
		char kind = *f++;
		int cnt = 0;
		while (is_digit(*f))
			cnt = cnt * 10 + (*f++ - '0');
		for (int i = 0; i < cnt; i++, k++) {
			int c = raw[k];
			int v = kind == 'n' ? ocr_digit(c) : kind == 'a' ? ocr_letter(c) : (c == '|' ? 'I' : up(c));
			if (v < 0 || !is_alnum(v))
				return false;
			out[k] = (char)v;
		}
	}
	return k == n;
}

void pii_scan_iban(const struct rule *r, const char *line, int len, struct cands *c)
{
	for (int i = 0; i + 1 < len; i++) {
		if (i > 0 && is_wordb((unsigned char)line[i - 1]))
			continue;
		int a = ocr_letter((unsigned char)line[i]), b = ocr_letter((unsigned char)line[i + 1]);
		if (a < 0 || b < 0)
			continue;
		/* Collect up to 34 alphanumerics, skipping single separators (1-2
		 * spaces or a dash) between groups; stop before a group that holds a
		 * lower-case letter no OCR confusion explains (ordinary words). */
		char raw[35];
		int pos[35], gstart[35], n = 0, p = i;
		while (p < len && n < 34) {
			int q = p;
			bool word = false;
			while (q < len && (is_alnum((unsigned char)line[q]) || line[q] == '|')) {
				int ch = (unsigned char)line[q];
				if (is_lower(ch) && ocr_digit(ch) < 0 &&
				    !(n == 0 && q - p < 2)) /* "de89": case of the country */
					word = true;
				q++;
			}
			if (q == p || word)
				break;
			if (q < len && (unsigned char)line[q] >= 0x80)
				break; /* glued to a non-ASCII letter: a word */
			for (int k = p; k < q && n < 34; k++) {
				gstart[n] = p;
				pos[n] = k;
				raw[n++] = line[k];
			}
			int s = q;
			while (s < len && s - q < 2 && line[s] == ' ')
				s++;
			if (s == q && s < len && line[s] == '-')
				s++;
			if (s == q || s >= len || !is_alnum((unsigned char)line[s]))
				break;
			p = s;
		}
		if (n < 12 || ocr_digit((unsigned char)raw[2]) < 0 || ocr_digit((unsigned char)raw[3]) < 0)
			continue;
		const struct iban_country *co = iban_country(a, b);
		if (!co && a == 'O' && (co = iban_country('D', b)))
			a = 'D'; /* D read as O or 0: "0E89 ..." */
		int end = -1;
		float conf = 0;
		if (co && n >= co->len) {
			char fixed[35];
			if (iban_repair(raw, co->len, co, fixed) && iban_mod97(fixed, co->len))
				conf = r->conf;
			else
				conf = r->low;
			end = pos[co->len - 1] + 1;
			/* the IBAN ends inside an OCR group: mask the whole group */
			int g = co->len < n ? gstart[co->len] : -1;
			if (g >= 0 && g == gstart[co->len - 1])
				while (end < len && is_alnum((unsigned char)line[end]))
					end++;
		} else {
			/* Shape only (unknown country or too short after OCR loss): real
			 * upper-case country code, check digits, mostly digits after. */
			int digits = 0;
			for (int k = 4; k < n; k++)
				digits += ocr_digit((unsigned char)raw[k]) >= 0;
			if ((!co &&
			     (!is_upper((unsigned char)line[pos[0]]) || !is_upper((unsigned char)line[pos[1]]))) ||
			    digits < 8 || n < 14)
				continue;
			conf = co ? r->low : r->low * 0.8f;
			end = pos[n - 1] + 1;
		}
		pii_add(c, i, end, r, conf);
		i = end - 1;
	}
}

/* ---------------------------------------------------- numeric groups (card, Steuer-ID) */

int pii_numeric_groups(const char *line, int len, struct ngroup *g)
{
	int n = 0;
	bool joined = false;
	for (int p = 0; p < len;) {
		int ch = (unsigned char)line[p];
		if (!(is_alnum(ch) || ch == '|') || (p > 0 && is_wordb((unsigned char)line[p - 1]))) {
			p++;
			joined = false;
			continue;
		}
		int s = p, real = 0;
		bool ok = true;
		while (p < len && (is_alnum((unsigned char)line[p]) || line[p] == '|')) {
			if (is_digit((unsigned char)line[p]))
				real++;
			else if (ocr_digit((unsigned char)line[p]) < 0)
				ok = false;
			p++;
		}
		if (p < len && ((unsigned char)line[p] & 0x80))
			ok = false;
		if (!ok || real == 0 || real * 2 < p - s || p - s > 19) {
			joined = false;
			continue;
		}
		struct ngroup *x = &g[n];
		x->s = s;
		x->e = p;
		x->nd = p - s;
		for (int k = 0; k < x->nd; k++)
			x->d[k] = (char)ocr_digit((unsigned char)line[s + k]);
		/* joined: the previous chunk was a number and the separator after it
		 * (1-2 spaces, a dash, a dot between 4-digit groups) led here */
		x->run_start = !joined || n == 0;
		/* "2722 40.361,08": a chunk that goes on with a decimal or thousands
		 * separator and digits is an amount; it joins no number before it
		 * (the 4-digit dotted card form is handled below) */
		if (p + 1 < len && (line[p] == '.' || line[p] == ',') && is_digit((unsigned char)line[p + 1]) &&
		    !(x->nd == 4 && line[p] == '.' && p + 5 <= len && is_digit((unsigned char)line[p + 4])))
			x->run_start = true;
		x->plus = x->run_start && s > 0 && line[s - 1] == '+';
		n++;
		/* what follows decides whether the next group joins this run */
		int q = p;
		while (q < len && q - p < 2 && line[q] == ' ')
			q++;
		if (q == p && q < len && line[q] == '-')
			q++;
		/* 4111.1111.1111.1111: a dot joins 4-digit groups only (not dates, amounts) */
		if (q == p && q + 5 <= len && line[q] == '.' && x->nd == 4 && is_alnum((unsigned char)line[q + 1]) &&
		    is_alnum((unsigned char)line[q + 2]) && is_alnum((unsigned char)line[q + 3]) &&
		    is_alnum((unsigned char)line[q + 4]) && (q + 5 == len || !is_alnum((unsigned char)line[q + 5])))
			q++;
		joined = q > p && q < len && is_alnum((unsigned char)line[q]);
		p = q > p ? q : p;
	}
	return n;
}

static bool luhn(const char *d, int n)
{
	int sum = 0;
	for (int k = 0; k < n; k++) {
		int v = d[n - 1 - k] - '0';
		if (k & 1) {
			v *= 2;
			if (v > 9)
				v -= 9;
		}
		sum += v;
	}
	return sum % 10 == 0;
}

static int prefix(const char *d, int k)
{
	int v = 0;
	for (int i = 0; i < k; i++)
		v = v * 10 + d[i] - '0';
	return v;
}

/** Known issuer ranges (IIN) with their lengths. */
static bool card_issuer(const char *d, int n)
{
	int p1 = prefix(d, 1), p2 = prefix(d, 2), p3 = prefix(d, 3), p4 = prefix(d, 4), p6 = prefix(d, 6);
	if (p1 == 4)
		return n == 13 || n == 16 || n == 19; /* Visa */
	if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720))
		return n == 16; /* Mastercard */
	if (p4 >= 2200 && p4 <= 2204)
		return n == 16; /* Mir */
	if (p2 == 34 || p2 == 37)
		return n == 15; /* Amex */
	if (p4 == 6011 || p2 == 65 || (p3 >= 644 && p3 <= 649) || (p6 >= 622126 && p6 <= 622925))
		return n >= 16; /* Discover */
	if (p2 == 36 || p2 == 38 || p2 == 39 || (p3 >= 300 && p3 <= 305))
		return n >= 14; /* Diners */
	if (p4 >= 3528 && p4 <= 3589)
		return n >= 16; /* JCB */
	if (p2 == 62)
		return n >= 16; /* UnionPay */
	if (p2 == 50 || (p2 >= 56 && p2 <= 69))
		return n >= 12; /* Maestro */
	return false;
}

/** An issuer's prefix, whatever the length (a digit lost to OCR). */
static bool card_prefix(const char *d)
{
	for (int n = 12; n <= 19; n++)
		if (card_issuer(d, n))
			return true;
	return false;
}

/** Card-style grouping, allowing one group shortened or lengthened by OCR:
 *  4-4-4-x(-x) with x <= 5, or 4-(5..7)-(4..6) (Amex, Diners). */
static bool card_grouping(const struct ngroup *g, int a, int b)
{
	int k = b - a + 1;
	if (k == 3 && g[a].nd == 4 && g[a + 1].nd >= 5 && g[a + 1].nd <= 7 && g[a + 2].nd >= 4 && g[a + 2].nd <= 6)
		return true;
	if (k < 4 || k > 5)
		return false;
	for (int i = a; i < a + 3; i++)
		if (g[i].nd != 4)
			return false;
	for (int i = a + 3; i <= b; i++)
		if (g[i].nd > 5)
			return false;
	return true;
}

/** The word before @s (over 1-2 spaces) mixes letters and digits, e.g. the
 *  "DE89" of an IBAN: what follows continues that code, it is no card. */
static bool after_code(const char *line, int s)
{
	int p = s;
	while (p > 0 && s - p < 2 && line[p - 1] == ' ')
		p--;
	if (p == s || p == 0 || !is_alnum((unsigned char)line[p - 1]))
		return false;
	bool letter = false, digit = false;
	while (p > 0 && is_alnum((unsigned char)line[p - 1])) {
		letter |= is_alpha((unsigned char)line[p - 1]);
		digit |= is_digit((unsigned char)line[p - 1]);
		p--;
	}
	return letter && digit;
}

void pii_scan_card(const struct rule *r, const char *line, const struct ngroup *g, int ng, struct cands *c)
{
	for (int a = 0; a < ng; a++) {
		if (g[a].plus || (g[a].run_start && after_code(line, g[a].s)))
			continue;
		int best = -1;
		float bconf = 0;
		char d[40];
		int tot = 0;
		for (int b = a; b < ng; b++) {
			if (b > a && g[b].run_start)
				break;
			if (tot + g[b].nd > 19)
				break;
			memcpy(d + tot, g[b].d, (size_t)g[b].nd);
			tot += g[b].nd;
			if (tot < 13)
				continue;
			bool l = luhn(d, tot), iss = card_issuer(d, tot);
			float conf = l && iss                                            ? r->conf
				     : (l || (card_prefix(d) && card_grouping(g, a, b))) ? r->low
											 : 0;
			if (conf > 0 && conf >= bconf) {
				best = b;
				bconf = conf;
			}
		}
		if (best < 0 && a + 2 < ng && !g[a + 1].run_start && !g[a + 2].run_start && g[a].nd == 4 &&
		    g[a + 1].nd == 4 && g[a + 2].nd == 4) {
			/* 4-digit groups, three or more: how IBANs and cards are written;
			 * one whose checksum OCR broke beyond repair still masks */
			best = a + 2;
			while (best + 1 < ng && !g[best + 1].run_start && g[best + 1].nd <= 4)
				best++;
			bconf = r->low * 0.8f;
		}
		if (best >= 0) {
			pii_add(c, g[a].s, g[best].e, r, bconf);
			a = best;
		}
	}
}

/** Steuer-ID: 11 digits, first not 0; in the first 10 exactly one digit
 *  occurs twice or three times (three times only since 2016, and then not
 *  all three adjacent), the others at most once; ISO 7064 MOD 11,10 check. */
static bool steuer_id_valid(const char *d)
{
	if (d[0] == '0')
		return false;
	int cnt[10] = { 0 }, multi = 0, times = 0;
	for (int i = 0; i < 10; i++)
		cnt[d[i] - '0']++;
	for (int v = 0; v < 10; v++)
		if (cnt[v] > 1) {
			multi++;
			times = cnt[v];
		}
	if (multi != 1 || times > 3)
		return false;
	if (times == 3)
		for (int i = 0; i + 2 < 10; i++)
			if (d[i] == d[i + 1] && d[i + 1] == d[i + 2])
				return false;
	int prod = 10;
	for (int i = 0; i < 10; i++) {
		int sum = (d[i] - '0' + prod) % 10;
		if (sum == 0)
			sum = 10;
		prod = (sum * 2) % 11;
	}
	int check = 11 - prod;
	if (check == 10)
		check = 0;
	return check == d[10] - '0';
}

void pii_scan_steuer(const struct rule *r, const struct ngroup *g, int ng, struct cands *c)
{
	for (int a = 0; a < ng; a++) {
		char d[24];
		int tot = 0;
		for (int b = a; b < ng; b++) {
			if (b > a && g[b].run_start)
				break;
			if (tot + g[b].nd > 11)
				break;
			memcpy(d + tot, g[b].d, (size_t)g[b].nd);
			tot += g[b].nd;
			if (tot == 11 && steuer_id_valid(d)) {
				pii_add(c, g[a].s, g[b].e, r, r->conf);
				a = b;
				break;
			}
		}
	}
}

/* -------------------------------------------------------- Personalausweis */

static const char ausweis_alpha[] = "CFGHJKLMNPRTVWXYZ";

/** A character of a document number after OCR repair, or -1. */
static int ausweis_char(int c, bool first)
{
	if (is_digit(c))
		return first ? -1 : c;
	c = up(c);
	if (c && strchr(ausweis_alpha, c))
		return c;
	if (first)
		return -1;
	switch (c) {
	case 'O':
	case 'Q':
	case 'D':
		return '0';
	case 'I':
	case '|':
		return '1';
	case 'S':
		return '5';
	case 'B':
		return '8';
	default:
		return -1;
	}
}

static int ausweis_value(int c) { return is_digit(c) ? c - '0' : c - 'A' + 10; }

/** 7-3-1 check digit over @n chars. */
static int check731(const char *s, int n)
{
	static const int w[3] = { 7, 3, 1 };
	int sum = 0;
	for (int i = 0; i < n; i++)
		sum += ausweis_value((unsigned char)s[i]) * w[i % 3];
	return sum % 10;
}

void pii_scan_ausweis(const struct rule *r, const char *line, const struct tok *t, int nt, struct cands *c)
{
	for (int i = 0; i < nt; i++) {
		int n = t[i].e - t[i].s;
		/* lower case passes where OCR makes it of a digit (l for 1) */
		if ((n != 9 && n != 10) || !(t[i].flags & TK_ASCII))
			continue;
		char s[10];
		int digits = 0; /* real digits, not repaired ones */
		bool ok = true;
		for (int k = 0; k < 9 && ok; k++) {
			int ch = (unsigned char)line[t[i].s + k];
			/* lower case only where OCR turns a digit into one: l o i s z */
			int v = is_lower(ch) && !strchr("olisz", ch) ? -1 : ausweis_char(ch, k == 0);
			ok = v >= 0;
			s[k] = (char)v;
			digits += is_digit((unsigned char)line[t[i].s + k]);
		}
		if (!ok)
			continue;
		/* A valid check digit is evidence enough (numbers since 2010 may be
		 * mostly letters: LYM68VW4K4); without one, ask for 4+ real digits
		 * and no lower case ("positions" reads as P05I7I0N5). */
		int cd = n == 10 ? ocr_digit((unsigned char)line[t[i].s + 9]) : -1;
		bool valid = cd >= 0 && check731(s, 9) == cd - '0';
		/* G and Z are in the alphabet, so 6 and 2 read as G and Z survive
		 * the repair: try each back once */
		for (int k = 1; k < 9 && cd >= 0 && !valid; k++) {
			char keep = s[k];
			if (keep != 'G' && keep != 'Z')
				continue;
			s[k] = keep == 'G' ? '6' : '2';
			valid = check731(s, 9) == cd - '0';
			s[k] = keep;
		}
		if (valid)
			pii_add(c, t[i].s, t[i].e, r, r->conf);
		else if (digits >= 4 && !(t[i].flags & TK_LOWER) && (n == 9 || cd >= 0))
			pii_add(c, t[i].s, t[i].e, r, r->low);
	}
}

/** An MRZ filler at line[p]: '<', or '«' (C2 AB) that Tesseract reads for
 *  "<<". Returns its length in bytes or 0. */
static int mrz_filler(const char *line, int len, int p)
{
	if (line[p] == '<')
		return 1;
	if ((unsigned char)line[p] == 0xc2 && p + 1 < len && (unsigned char)line[p + 1] == 0xab)
		return 2;
	return 0;
}

void pii_scan_mrz(const struct rule *r, const char *line, int len, struct cands *c)
{
	for (int p = 0; p < len;) {
		int ch = (unsigned char)line[p];
		if (!(is_upper(ch) || is_digit(ch) || mrz_filler(line, len, p))) {
			p++;
			continue;
		}
		int s = p, kk = 0;
		bool dbl = false;
		for (;;) {
			int f = p < len ? mrz_filler(line, len, p) : 0;
			if (f) {
				dbl |= f == 2 || (p > s && line[p - 1] == '<');
				p += f;
			} else if (p < len && (is_upper((unsigned char)line[p]) || is_digit((unsigned char)line[p]))) {
				kk = line[p] == 'K' ? kk + 1 : 0;
				dbl |= kk >= 4; /* fillers read as K: "KKKK" */
				p++;
			} else if (p + 1 < len && line[p] == ' ' && mrz_filler(line, len, p + 1)) {
				p++;
			} else {
				break;
			}
		}
		if (dbl && p - s >= 20)
			pii_add(c, s, p, r, r->conf);
	}
}

/* ------------------------------------------------------------------- BIC */

static const char iso3166[] =
	"ADAEAFAGAIALAMAOAQARASATAUAWAXAZBABBBDBEBFBGBHBIBJBLBMBNBOBQBRBSBTBVBWBYBZCACCCDCFCGCHCICKCLCMCNCOCRCU"
	"CVCWCXCYCZDEDJDKDMDODZECEEEGEHERESETFIFJFKFMFOFRGAGBGDGEGFGGGHGIGLGMGNGPGQGRGSGTGUGWGYHKHMHNHRHTHUIDIE"
	"ILIMINIOIQIRISITJEJMJOJPKEKGKHKIKMKNKPKRKWKYKZLALBLCLILKLRLSLTLULVLYMAMCMDMEMFMGMHMKMLMMMNMOMPMQMRMSMT"
	"MUMVMWMXMYMZNANCNENFNGNINLNONPNRNUNZOMPAPEPFPGPHPKPLPMPNPRPSPTPWPYQARERORSRURWSASBSCSDSESGSHSISJSKSLSM"
	"SNSOSRSSSTSVSXSYSZTCTDTFTGTHTJTKTLTMTNTOTRTTTVTWTZUAUGUMUSUYUZVAVCVEVGVIVNVUWFWSXKYEYTZAZMZW";

static bool is_country(int a, int b)
{
	for (const char *p = iso3166; *p; p += 2)
		if (p[0] == a && p[1] == b)
			return true;
	return false;
}

/** The line mentions a bank code: BIC, SWIFT, IBAN, Bank (any case). */
static bool bank_context(const char *line)
{
	static const char *const words[] = { "bic", "swift", "iban", "bank", NULL };
	for (const char *p = line; *p; p++)
		for (int k = 0; words[k]; k++) {
			int i = 0;
			while (words[k][i] && low((unsigned char)p[i]) == words[k][i])
				i++;
			if (!words[k][i])
				return true;
		}
	return false;
}

void pii_scan_bic(const struct rule *r, const char *line, const struct tok *t, int nt, struct cands *c)
{
	for (int i = 0; i < nt; i++) {
		int n = t[i].e - t[i].s;
		if ((n != 8 && n != 11) || !(t[i].flags & TK_ASCII) || (t[i].flags & TK_LOWER))
			continue;
		const char *s = line + t[i].s;
		char L[6];
		int real = 0;
		bool ok = true;
		for (int k = 0; k < 6 && ok; k++) {
			int v = ocr_letter((unsigned char)s[k]);
			ok = v >= 0 && s[k] != '-';
			L[k] = (char)v;
			real += is_upper((unsigned char)s[k]);
		}
		if (!ok || real < 5 || !is_country(L[4], L[5]))
			continue;
		bool digit = false;
		for (int k = 6; k < n && ok; k++) {
			ok = is_upper((unsigned char)s[k]) || is_digit((unsigned char)s[k]);
			digit |= is_digit((unsigned char)s[k]);
		}
		if (!ok)
			continue;
		/* Letters only (DEUTDEDB) look like capitalized words (SETTINGS,
		 * TERMINAL): those need a bank word on the line. */
		bool strong = digit || (n == 11 && memcmp(s + 8, "XXX", 3) == 0);
		if (!strong && !bank_context(line))
			continue;
		pii_add(c, t[i].s, t[i].e, r, strong ? r->conf : r->low);
	}
}
