/* ls_pii — personal-data rules; see ls_pii.h for the contract and
 * rules/pii.rules for the file format.
 *
 * Design: one pass tokenizes the line (word tokens on the stack, no
 * allocation), then each rule runs its detector over the bytes or the tokens
 * and adds candidate ranges; candidates are sorted and overlapping ones
 * merged. Builtins are hand-written rather than regexes: they need OCR repair
 * and checksums anyway, and glibc regexec costs microseconds per pattern per
 * line, which only user `regex` rules pay. All character classes are ASCII
 * and locale independent; bytes >= 0x80 count as letters (UTF-8). */
#include "ls_pii.h"
#include "ls_redact.h"

#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- chars */

static inline bool is_digit(int c) { return c >= '0' && c <= '9'; }
static inline bool is_upper(int c) { return c >= 'A' && c <= 'Z'; }
static inline bool is_lower(int c) { return c >= 'a' && c <= 'z'; }
static inline bool is_alpha(int c) { return is_upper(c) || is_lower(c); }
static inline bool is_alnum(int c) { return is_alpha(c) || is_digit(c); }
static inline int up(int c) { return is_lower(c) ? c - 32 : c; }
static inline int low(int c) { return is_upper(c) ? c + 32 : c; }
/** A byte that belongs to a word: ASCII alnum or any UTF-8 byte. */
static inline bool is_wordb(int c) { return is_alnum(c) || (c & 0x80); }
/** A letter byte: ASCII letter or any UTF-8 byte (umlauts, ß, accents). */
static inline bool is_letterb(int c) { return is_alpha(c) || (c & 0x80); }

/** The digit an OCR'd character most likely stands for inside a number, or -1. */
static int ocr_digit(int c)
{
	if (is_digit(c))
		return c;
	switch (c) {
	case 'O': case 'o': case 'D': case 'Q': return '0';
	case 'I': case 'l': case '|': case 'i': case '!': return '1';
	case 'Z': case 'z': return '2';
	case 'S': case 's': return '5';
	case 'G': case 'b': return '6';
	case 'B': return '8';
	case 'g': case 'q': return '9';
	default: return -1;
	}
}

/** The upper-case letter an OCR'd character most likely stands for where a
 *  letter must be, or -1. */
static int ocr_letter(int c)
{
	if (is_alpha(c))
		return up(c);
	switch (c) {
	case '0': return 'O';
	case '1': case '|': return 'I';
	case '2': return 'Z';
	case '5': return 'S';
	case '6': return 'G';
	case '8': return 'B';
	default: return -1;
	}
}

/* UTF-8 Latin-1 supplement (C3 80..BF) folded to ASCII; '.' = not a letter,
 * 's' at 0x9f is ß (folds to "ss"). */
static const char latin1_fold[64] = "aaaaaaaceeeeiiiidnooooo.ouuuuy.saaaaaaaceeeeiiiidnooooo.ouuuuy.y";
/* UTF-8 Latin Extended-A (C4 80..C5 BF, U+0100..U+017F: Polish, Turkish,
 * Czech names: Łukasz, Yılmaz, Dvořák) folded to the base letter. */
static const char latin_ext_fold[128] = "aaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiiiiijjkkklllllll"
					 "lllnnnnnnnnnoooooooorrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzs";

/** U+0100..U+017F upper case: the alternating pattern of Latin Extended-A. */
static bool latin_ext_upper(int cp)
{
	if (cp >= 0x100 && cp <= 0x137)
		return (cp & 1) == 0;
	if (cp >= 0x139 && cp <= 0x148)
		return (cp & 1) == 1;
	if (cp >= 0x14a && cp <= 0x177)
		return (cp & 1) == 0;
	if (cp == 0x178)
		return true;
	if (cp >= 0x179 && cp <= 0x17e)
		return (cp & 1) == 1;
	return false;
}

/** Folds the character at line[p] for comparisons: ASCII letters lower case,
 *  digits kept, Latin-1 letters to their base letter (ä->a, ß->ss). Writes 0..2
 *  chars to @f, sets *adv to the bytes consumed. 0 chars: not a letter/digit. */
static int fold_at(const char *line, int len, int p, char f[2], int *adv)
{
	unsigned char c = (unsigned char)line[p];
	*adv = 1;
	if (is_alnum(c)) {
		f[0] = (char)low(c);
		return 1;
	}
	if (c == 0xc3 && p + 1 < len && ((unsigned char)line[p + 1] & 0xc0) == 0x80) {
		*adv = 2;
		unsigned char d = (unsigned char)line[p + 1];
		char b = latin1_fold[d - 0x80];
		if (b == '.')
			return 0;
		if (d == 0x9f) {
			f[0] = f[1] = 's';
			return 2;
		}
		f[0] = b;
		return 1;
	}
	if ((c == 0xc4 || c == 0xc5) && p + 1 < len && ((unsigned char)line[p + 1] & 0xc0) == 0x80) {
		*adv = 2;
		f[0] = latin_ext_fold[(c - 0xc4) * 64 + ((unsigned char)line[p + 1] - 0x80)];
		return 1;
	}
	if (c & 0x80) { /* other UTF-8: skip the whole sequence, not a foldable letter */
		int n = 1;
		while (p + n < len && ((unsigned char)line[p + n] & 0xc0) == 0x80)
			n++;
		*adv = n;
	}
	return 0;
}

/** Upper-case start of a word: ASCII A-Z or À..Þ (not ×). */
static bool is_cap_at(const char *line, int len, int p)
{
	unsigned char c = (unsigned char)line[p];
	if (is_upper(c))
		return true;
	if (c == 0xc3 && p + 1 < len) {
		unsigned char d = (unsigned char)line[p + 1];
		return d >= 0x80 && d <= 0x9e && d != 0x97;
	}
	if ((c == 0xc4 || c == 0xc5) && p + 1 < len)
		return latin_ext_upper(((c & 0x1f) << 6) | ((unsigned char)line[p + 1] & 0x3f));
	return false;
}

/** Folds line[s,e) into @buf (NUL-terminated, at most cap-1 chars), keeping
 *  '-' and '\''. Returns the length or -1 if it did not fit. */
static int fold_word(const char *line, int s, int e, char *buf, int cap)
{
	int n = 0;
	for (int p = s; p < e;) {
		char f[2];
		int adv, k = fold_at(line, e, p, f, &adv);
		if (k == 0 && (line[p] == '-' || line[p] == '\'')) {
			f[0] = line[p];
			k = 1;
		}
		for (int i = 0; i < k; i++) {
			if (n >= cap - 1)
				return -1;
			buf[n++] = f[i];
		}
		p += adv;
	}
	buf[n] = 0;
	return n;
}

/* ---------------------------------------------------------------- rules */

enum rtype {
	T_IBAN, T_CARD, T_STEUER, T_AUSWEIS, T_MRZ, T_EMAIL, T_PHONE, T_STREET, T_PLZ,
	T_NAMES, T_BIC, T_LABEL, T_REGEX, T_IREGEX, T_NTYPES
};
static const char *const type_names[T_NTYPES] = {
	"iban", "card", "steuer-id", "ausweis", "mrz", "email", "phone", "street", "plz-city",
	"name-list", "bic", "label", "regex", "iregex",
};

enum vkind { V_NAME, V_NUMBER, V_TEXT, V_DATE, V_NKINDS };
static const char *const vkind_names[V_NKINDS] = { "name", "number", "text", "date" };

#define LABEL_MAX 48
struct label {
	char fold[LABEL_MAX]; /* folded letters and digits only */
	int nfold;
	char punct;           /* required ':' or '.' after the label, or 0 */
};

struct rule {
	char *id;
	enum rtype type;
	float conf, low; /* checksum-valid / shape-only confidence */
	enum vkind vk;
	struct label *labels;
	int nlabels;
	regex_t re;
	bool has_re;
	int line;
};

struct nameset {
	char **slot; /* open addressing, NULL = empty */
	unsigned mask, n;
};

/* Every label of every label rule, bucketed by its first folded char
 * (a-z, 0-9), so a word start tries only the labels that can match it. */
struct label_ref {
	const struct rule *r;
	const struct label *lb;
};
#define LABEL_BUCKETS 36

struct ls_pii_rules {
	struct rule *rules;
	int n, cap;
	struct nameset first, last;
	struct label_ref *lrefs;         /* sorted by bucket */
	int lbucket[LABEL_BUCKETS + 1];  /* bucket b: lrefs[lbucket[b] .. lbucket[b + 1]) */
};

static int label_bucket(char f)
{
	return is_digit(f) ? 26 + (f - '0') : is_lower(f) ? f - 'a' : -1;
}

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static bool nameset_has(const struct nameset *ns, const char *key)
{
	if (!ns->slot)
		return false;
	for (unsigned i = fnv1a(key) & ns->mask;; i = (i + 1) & ns->mask) {
		if (!ns->slot[i])
			return false;
		if (strcmp(ns->slot[i], key) == 0)
			return true;
	}
}

static int nameset_add(struct nameset *ns, const char *key)
{
	if (nameset_has(ns, key))
		return 0;
	if (!ns->slot || (ns->n + 1) * 2 > ns->mask + 1) { /* keep load <= 1/2 */
		unsigned ncap = ns->slot ? (ns->mask + 1) * 2 : 256;
		char **nslot = calloc(ncap, sizeof *nslot);
		if (!nslot)
			return -ENOMEM;
		if (ns->slot) {
			for (unsigned i = 0; i <= ns->mask; i++) {
				if (!ns->slot[i])
					continue;
				unsigned j = fnv1a(ns->slot[i]) & (ncap - 1);
				while (nslot[j])
					j = (j + 1) & (ncap - 1);
				nslot[j] = ns->slot[i];
			}
			free(ns->slot);
		}
		ns->slot = nslot;
		ns->mask = ncap - 1;
	}
	char *k = strdup(key);
	if (!k)
		return -ENOMEM;
	unsigned i = fnv1a(key) & ns->mask;
	while (ns->slot[i])
		i = (i + 1) & ns->mask;
	ns->slot[i] = k;
	ns->n++;
	return 0;
}

static void nameset_free(struct nameset *ns)
{
	if (ns->slot)
		for (unsigned i = 0; i <= ns->mask; i++)
			free(ns->slot[i]);
	free(ns->slot);
	ns->slot = NULL;
	ns->n = ns->mask = 0;
}

void ls_pii_rules_free(struct ls_pii_rules **rp)
{
	if (!rp || !*rp)
		return;
	struct ls_pii_rules *r = *rp;
	for (int i = 0; i < r->n; i++) {
		free(r->rules[i].id);
		free(r->rules[i].labels);
		if (r->rules[i].has_re)
			regfree(&r->rules[i].re);
	}
	free(r->rules);
	free(r->lrefs);
	nameset_free(&r->first);
	nameset_free(&r->last);
	free(r);
	*rp = NULL;
}

int ls_pii_rules_count(const struct ls_pii_rules *r)
{
	return r ? r->n : 0;
}

/* ------------------------------------------------------------ candidates */

#define MAX_CANDS 128
struct cands {
	struct ls_pii_match m[MAX_CANDS];
	int n;
	int ov_start, ov_end; /* range of candidates that did not fit (fail closed) */
	float ov_conf;
	const char *ov_id;
};

static void add(struct cands *c, int s, int e, const struct rule *r, float conf)
{
	if (e <= s)
		return;
	if (c->n < MAX_CANDS) {
		c->m[c->n++] = (struct ls_pii_match){ s, e, r->id, conf };
		return;
	}
	if (c->ov_end <= c->ov_start) {
		c->ov_start = s;
		c->ov_end = e;
		c->ov_conf = conf;
		c->ov_id = r->id;
	} else {
		c->ov_start = s < c->ov_start ? s : c->ov_start;
		c->ov_end = e > c->ov_end ? e : c->ov_end;
	}
}

/* ---------------------------------------------------------------- tokens */

enum { TK_CAP = 1, TK_ALPHA = 2, TK_DIGIT = 4, TK_ALLDIGIT = 8, TK_LOWER = 16, TK_ASCII = 32 };
struct tok {
	int s, e;
	unsigned flags;
};
#define MAX_TOKS (LS_PII_MAX_LINE / 2 + 2)

/** Word tokens: maximal runs of word bytes, with '-' and '\'' inside a run
 *  (Karl-Marx-Straße, 4111-1111, O'Brien). */
/* U+2000..U+207F (quotes, dashes, bullets OCR puts next to words): not
 * part of a word. Returns its length in bytes, or 0. */
static int punct_len(const char *line, int len, int p)
{
	return (unsigned char)line[p] == 0xe2 && p + 2 < len &&
			       ((unsigned char)line[p + 1] == 0x80 || (unsigned char)line[p + 1] == 0x81)
		       ? 3
		       : 0;
}

static int tokenize(const char *line, int len, struct tok *t)
{
	int n = 0;
	for (int p = 0; p < len;) {
		int pl = punct_len(line, len, p);
		if (pl) {
			p += pl;
			continue;
		}
		if (!is_wordb((unsigned char)line[p])) {
			p++;
			continue;
		}
		int s = p;
		unsigned fl = TK_ASCII | TK_ALLDIGIT;
		while (p < len) {
			int c = (unsigned char)line[p];
			if ((c == '-' || c == '\'') && p > s && p + 1 < len && is_wordb((unsigned char)line[p + 1])) {
				fl &= ~(unsigned)TK_ALLDIGIT;
				p++;
				continue;
			}
			if (!is_wordb(c) || punct_len(line, len, p))
				break;
			if (is_digit(c))
				fl |= TK_DIGIT;
			else {
				fl &= ~(unsigned)TK_ALLDIGIT;
				fl |= TK_ALPHA;
				if (is_lower(c))
					fl |= TK_LOWER;
				if (c & 0x80)
					fl &= ~(unsigned)TK_ASCII;
			}
			p++;
		}
		if (is_cap_at(line, len, s))
			fl |= TK_CAP;
		t[n++] = (struct tok){ s, p, fl };
	}
	return n;
}

/** Bytes between two tokens are only spaces, at most @maxsp of them. */
static bool gap_spaces(const char *line, int a, int b, int maxsp)
{
	if (b - a < 1 || b - a > maxsp)
		return false;
	for (int p = a; p < b; p++)
		if (line[p] != ' ')
			return false;
	return true;
}

/* ------------------------------------------------------------------- IBAN */

struct iban_country {
	char cc[3];
	unsigned char len;
	const char *fmt; /* BBAN: n = digits, a = letters, c = alphanumerics; count follows */
};
/* ISO 13616 / SWIFT IBAN registry lengths and BBAN formats. */
static const struct iban_country iban_countries[] = {
	{ "AT", 20, "n16" }, { "BE", 16, "n12" }, { "BG", 22, "a4n6c8" }, { "CH", 21, "n5c12" },
	{ "CY", 28, "n8c16" }, { "CZ", 24, "n20" }, { "DE", 22, "n18" }, { "DK", 18, "n14" },
	{ "EE", 20, "n16" }, { "ES", 24, "n20" }, { "FI", 18, "n14" }, { "FR", 27, "n10c11n2" },
	{ "GB", 22, "a4n14" }, { "GR", 27, "n7c16" }, { "HR", 21, "n17" }, { "HU", 28, "n24" },
	{ "IE", 22, "a4n14" }, { "IS", 26, "n22" }, { "IT", 27, "a1n10c12" }, { "LI", 21, "n5c12" },
	{ "LT", 20, "n16" }, { "LU", 20, "n3c13" }, { "LV", 21, "a4c13" }, { "MC", 27, "n10c11n2" },
	{ "MT", 31, "a4n5c18" }, { "NL", 18, "a4n10" }, { "NO", 15, "n11" }, { "PL", 28, "n24" },
	{ "PT", 25, "n21" }, { "RO", 24, "a4c16" }, { "SE", 24, "n20" }, { "SI", 19, "n15" },
	{ "SK", 24, "n20" }, { "SM", 27, "a1n10c12" }, { "TR", 26, "n6c16" },
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

static void scan_iban(const struct rule *r, const char *line, int len, struct cands *c)
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
				if (is_lower(ch) && ocr_digit(ch) < 0 && !(n == 0 && q - p < 2)) /* "de89": case of the country */
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
			if ((!co && (!is_upper((unsigned char)line[pos[0]]) || !is_upper((unsigned char)line[pos[1]]))) ||
			    digits < 8 || n < 14)
				continue;
			conf = co ? r->low : r->low * 0.8f;
			end = pos[n - 1] + 1;
		}
		add(c, i, end, r, conf);
		i = end - 1;
	}
}

/* ---------------------------------------------------- numeric groups (card, Steuer-ID) */

struct ngroup {
	int s, e;
	int nd;          /* digits; 0 if the chunk is no number */
	char d[20];
	bool run_start;  /* first group of a run */
	bool plus;       /* a '+' right before the run (phone number) */
};
#define MAX_GROUPS (LS_PII_MAX_LINE / 2 + 2)

/** Splits the line into numeric chunks (ASCII alnum runs that read as
 *  digits after OCR repair, at least half of them real digits) and marks
 *  runs: chunks joined by 1-2 spaces or one dash. */
static int numeric_groups(const char *line, int len, struct ngroup *g)
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
		return n == 13 || n == 16 || n == 19;                      /* Visa */
	if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720))
		return n == 16;                                             /* Mastercard */
	if (p4 >= 2200 && p4 <= 2204)
		return n == 16;                                             /* Mir */
	if (p2 == 34 || p2 == 37)
		return n == 15;                                             /* Amex */
	if (p4 == 6011 || p2 == 65 || (p3 >= 644 && p3 <= 649) || (p6 >= 622126 && p6 <= 622925))
		return n >= 16;                                             /* Discover */
	if (p2 == 36 || p2 == 38 || p2 == 39 || (p3 >= 300 && p3 <= 305))
		return n >= 14;                                             /* Diners */
	if (p4 >= 3528 && p4 <= 3589)
		return n >= 16;                                             /* JCB */
	if (p2 == 62)
		return n >= 16;                                             /* UnionPay */
	if (p2 == 50 || (p2 >= 56 && p2 <= 69))
		return n >= 12;                                             /* Maestro */
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

static void scan_card(const struct rule *r, const char *line, const struct ngroup *g, int ng, struct cands *c)
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
			float conf = l && iss ? r->conf : (l || (card_prefix(d) && card_grouping(g, a, b))) ? r->low : 0;
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
			add(c, g[a].s, g[best].e, r, bconf);
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

static void scan_steuer(const struct rule *r, const struct ngroup *g, int ng, struct cands *c)
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
				add(c, g[a].s, g[b].e, r, r->conf);
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
	case 'O': case 'Q': case 'D': return '0';
	case 'I': case '|': return '1';
	case 'S': return '5';
	case 'B': return '8';
	default: return -1;
	}
}

static int ausweis_value(int c)
{
	return is_digit(c) ? c - '0' : c - 'A' + 10;
}

/** 7-3-1 check digit over @n chars. */
static int check731(const char *s, int n)
{
	static const int w[3] = { 7, 3, 1 };
	int sum = 0;
	for (int i = 0; i < n; i++)
		sum += ausweis_value((unsigned char)s[i]) * w[i % 3];
	return sum % 10;
}

static void scan_ausweis(const struct rule *r, const char *line, const struct tok *t, int nt, struct cands *c)
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
			add(c, t[i].s, t[i].e, r, r->conf);
		else if (digits >= 4 && !(t[i].flags & TK_LOWER) && (n == 9 || cd >= 0))
			add(c, t[i].s, t[i].e, r, r->low);
	}
}

/** Machine-readable zone lines (ID card TD1, passport TD3): runs of
 *  [A-Z0-9<] with "<<" in them, 20+ chars. Every field in them is personal. */
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

static void scan_mrz(const struct rule *r, const char *line, int len, struct cands *c)
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
			add(c, s, p, r, r->conf);
	}
}

/* ---------------------------------------------------------------- e-mail */

static bool is_local_char(int c)
{
	return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-' || (c & 0x80);
}

static bool is_dom_char(int c)
{
	return is_alnum(c) || c == '-' || (c & 0x80);
}

static void scan_email(const struct rule *r, const char *line, int len, struct cands *c)
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
		       ((s < l && (line[s] == '.' || line[s] == '_' || line[s] == '-')) ||
			line[s - 2] == '.' || line[s - 2] == '_' || line[s - 2] == '-') &&
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
				if (k < len && (line[k] == '.' || (line[k] == ' ' && k + 1 < len && line[k + 1] == '.')))
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
				if (q < len && is_dom_char((unsigned char)line[q]) && (!sp || is_lower((unsigned char)line[q]))) {
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
		add(c, s, e, r, conf);
		i = e - 1;
	}
}

/* ----------------------------------------------------------------- phone */

static void scan_phone(const struct rule *r, const char *line, int len, struct cands *c)
{
	float mid = (r->conf + r->low) / 2;
	for (int i = 0; i < len; i++) {
		int ch = (unsigned char)line[i];
		bool ocr_start = !is_digit(ch) && ocr_digit(ch) >= 0 && i + 1 < len && is_digit((unsigned char)line[i + 1]);
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
				dot |= x == '.';
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
			conf = mid;   /* (030) 12 34 56, (555) 123-4567 */
		} else if (nd >= 6 && nd <= 13 && d[0] == '0' && d[1] != '0' && !dot) {
			if (ng >= 2 && glen[0] >= 3 && glen[0] <= 6)
				conf = mid; /* 030 1234567, 0151-12345678, 030/1234567 */
			else if (nd >= 10)
				conf = r->low; /* 01511234567, 0 30 1234567 */
		} else if (ng == 3 && glen[0] == 3 && glen[1] == 3 && glen[2] == 4 && d[0] != '0') {
			conf = r->low; /* 555-123-4567, 555.123.4567 */
		}
		if (conf > 0) {
			add(c, i, end, r, conf);
			i = end - 1;
		}
	}
}

/* ---------------------------------------------------------------- street */

struct suffix {
	const char *s;
	int n;
};
#define SFX(x) { x, (int)sizeof(x) - 1 }
static const struct suffix street_de[] = {
	SFX("strasse"), SFX("strase"), SFX("strabe"), SFX("stra8e"), SFX("str"), SFX("weg"), SFX("platz"),
	SFX("allee"), SFX("gasse"), SFX("ring"), SFX("damm"), SFX("ufer"), SFX("chaussee"), SFX("steig"),
	SFX("pfad"), SFX("markt"), SFX("stieg"), SFX("kamp"), SFX("promenade"), SFX("wall"), SFX("graben"),
	SFX("hof"), SFX("berg"), SFX("tal"), SFX("feld"), SFX("garten"), SFX("park"), SFX("brucke"), SFX("tor"),
	SFX("gracht"), { NULL, 0 },
};
static const char *const street_en[] = {
	"street", "st", "road", "rd", "avenue", "ave", "lane", "ln", "drive", "dr", "boulevard", "blvd",
	"court", "ct", "way", "place", "pl", "close", "crescent", "terrace", "square", "sq", "row", "mews",
	"gardens", "parkway", "highway", NULL,
};

static bool in_list(const char *w, const char *const *list)
{
	for (int k = 0; list[k]; k++)
		if (list[k][0] == w[0] && strcmp(w, list[k]) == 0)
			return true;
	return false;
}

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
	while (p < t->e && ocr_digit((unsigned char)line[p]) >= 0 && !(p > t->s && is_alpha((unsigned char)line[p]) && p + 1 == t->e)) {
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

static void scan_street(const struct rule *r, const char *line, int len, const struct tok *t, int nt,
			struct cands *c)
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
			       (is_upper((unsigned char)line[k - 1]) || line[k - 1] == 'l') && !is_upper((unsigned char)line[k - 2]))
				k--;
			struct tok num = { k, t[i].e, 0 };
			bool whole;
			if (k - t[i].s >= 3 && house_number(line, &num) && fold_word(line, t[i].s, k, w, sizeof w) > 0 &&
			    suffix_of(w, (int)strlen(w), street_de, &whole)) {
				int s = t[i].s;
				if (whole && i > 0 && gap_spaces(line, t[i - 1].e, t[i].s, 1) && (t[i - 1].flags & TK_ALPHA))
					s = t[i - 1].s; /* "Am Markt4" */
				add(c, s, t[i].e, r, r->conf);
			}
			continue;
		}
		if (!(t[i].flags & TK_ALPHA) || (t[i].flags & TK_DIGIT))
			continue;
		int n = fold_word(line, t[i].s, t[i].e, w, sizeof w);
		if (n < 2)
			continue;
		bool whole = false;
		/* German: [Adjective] Street-word house-number */
		if (suffix_of(w, n, street_de, &whole) && i + 1 < nt && (t[i].flags & TK_CAP || (whole && i > 0))) {
			int gap_s = t[i].e, gap_e = t[i + 1].s;
			if (gap_s < len && line[gap_s] == '.')
				gap_s++;
			bool gap_ok = gap_e == gap_s ? gap_s > t[i].e : gap_spaces(line, gap_s, gap_e, 2) ||
				(gap_e - gap_s == 2 && line[gap_s] == ',' && line[gap_s + 1] == ' ');
			if (gap_ok && house_number(line, &t[i + 1])) {
				int s = t[i].s;
				if (whole && i > 0 && gap_spaces(line, t[i - 1].e, t[i].s, 1) && (t[i - 1].flags & TK_ALPHA))
					s = t[i - 1].s;
				else if (whole && !(t[i].flags & TK_CAP))
					continue;
				add(c, s, t[i + 1].e, r, r->conf);
				i++;
				continue;
			}
		}
		/* English: number Name [Name] Street-word  |  Name Street-word (no number) */
		if ((t[i].flags & TK_CAP) && in_list(w, street_en) && i > 0) {
			int j = i - 1, s = -1;
			while (j >= 0 && i - j <= 3 && (t[j].flags & TK_CAP) && !(t[j].flags & TK_DIGIT) &&
			       gap_spaces(line, t[j].e, t[j + 1].s, 1))
				j--;
			int e = t[i].e + (t[i].e < len && line[t[i].e] == '.');
			if (j >= 0 && j < i - 1 && house_number(line, &t[j]) && gap_spaces(line, t[j].e, t[j + 1].s, 1)) {
				s = t[j].s;
				add(c, s, e, r, r->conf);
			} else if (j + 1 < i && !in_list(w, street_en_title)) {
				add(c, t[j + 1].s, e, r, r->low);
			}
		}
	}
}

/* --------------------------------------------------------- PLZ + city */

static const char *const not_city[] = {
	"euro", "eur", "usd", "chf", "stuck", "stk", "mio", "tsd", "mal", "punkte", "seiten", "zeilen", NULL,
};
static const char *const city_particle[] = {
	"am", "an", "der", "im", "in", "a", "i", "ob", "bei", "vor", "d", "upon", "on", NULL,
};

static int plz_city_words(const char *line, int len, const struct tok *t, int nt, int i, int j, int s,
			  const struct rule *r, struct cands *c);

static void scan_plz(const struct rule *r, const char *line, int len, const struct tok *t, int nt, struct cands *c)
{
	char w[64];
	for (int i = 0; i < nt; i++) {
		int s = t[i].s, p = s;
		if (line[p] == 'D' && p + 1 < t[i].e && line[p + 1] == '-')
			p += 2;
		else if (line[p] == 'D' && p + 2 < t[i].e && line[p + 1] == 'E' && line[p + 2] == '-')
			p += 3;
		if (t[i].e - p > 6 && is_cap_at(line, len, p + 5)) {
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
			if (real < 4 || (ocr_digit((unsigned char)line[p]) == '0' && ocr_digit((unsigned char)line[p + 1]) == '0'))
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
		if (!gap_spaces(line, t[i].e, t[i + 1].s, 2) || !(t[i + 1].flags & TK_CAP) || (t[i + 1].flags & TK_DIGIT) ||
		    t[i + 1].e - t[i + 1].s < 2)
			continue;
		if (fold_word(line, t[i + 1].s, t[i + 1].e, w, sizeof w) < 0 || in_list(w, not_city))
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
		if (!(gap_spaces(line, gs, ge, 1) || par))
			break;
		if (t[j + 1].flags & TK_DIGIT)
			break;
		if (t[j + 1].flags & TK_CAP) {
			j++;
			e = t[j].e + (par && t[j].e < len && line[t[j].e] == ')');
			continue;
		}
		if (fold_word(line, t[j + 1].s, t[j + 1].e, w, sizeof w) > 0 && in_list(w, city_particle) &&
		    j + 2 < nt && (t[j + 2].flags & TK_CAP) && gap_spaces(line, t[j + 1].e, t[j + 2].s, 1)) {
			j += 2;
			e = t[j].e;
			continue;
		}
		/* "amMain": a particle glued to the next word */
		int k = t[j + 1].s;
		while (k < t[j + 1].e && is_lower((unsigned char)line[k]))
			k++;
		if (k < t[j + 1].e && k - t[j + 1].s <= 3 && is_cap_at(line, len, k) &&
		    fold_word(line, t[j + 1].s, k, w, sizeof w) > 0 && in_list(w, city_particle)) {
			j++;
			e = t[j].e;
			continue;
		}
		break;
	}
	add(c, s, e, r, r->conf);
	return j;
}

/* ----------------------------------------------------------------- names */

static const char *const titles[] = {
	"herr", "herrn", "frau", "hr", "fr", "mr", "mrs", "ms", "miss", "dr", "prof", "sir", "dame", NULL,
};
static const char *const particles[] = {
	"von", "van", "de", "der", "den", "zu", "di", "da", "du", "le", "la", "ter", "vom", "zur", "del", NULL,
};

static bool name_word(const struct tok *t)
{
	return (t->flags & TK_CAP) && !(t->flags & TK_DIGIT) && t->e - t->s >= 2;
}

/* A name list lookup that also tries OCR's "ii" for "ü" (Jürgen -> Jiirgen;
 * the lists are folded, ü -> u). */
static bool name_has(const struct nameset *ns, const char *w)
{
	if (nameset_has(ns, w))
		return true;
	const char *ii = strstr(w, "ii");
	if (!ii)
		return false;
	char alt[64];
	size_t k = (size_t)(ii - w);
	if (strlen(w) >= sizeof alt)
		return false;
	memcpy(alt, w, k);
	alt[k] = 'u';
	strcpy(alt + k + 1, ii + 2);
	return nameset_has(ns, alt);
}

static void scan_names(const struct rule *r, const struct ls_pii_rules *rs, const char *line, int len,
		       const struct tok *t, int nt, struct cands *c)
{
	char w[64];
	for (int i = 0; i < nt; i++) {
		/* "J. Doe": an initial and a capitalized word */
		if (t[i].e - t[i].s == 1 && is_upper((unsigned char)line[t[i].s]) && i + 1 < nt &&
		    t[i].e + 2 == t[i + 1].s && line[t[i].e] == '.' && line[t[i].e + 1] == ' ' && name_word(&t[i + 1]) &&
		    t[i + 1].e - t[i + 1].s >= 3 && !(t[i + 1].flags & TK_DIGIT)) {
			add(c, t[i].s, t[i + 1].e, r, r->low);
			continue; /* the word may start a name itself */
		}
		if (!name_word(&t[i])) {
			/* "charlotte Meyer", "özlem Schulz": OCR lost the capital of a
			 * listed first name before a capitalized word */
			if (i + 1 < nt && !(t[i].flags & TK_DIGIT) && t[i].e - t[i].s >= 3 && name_word(&t[i + 1]) &&
			    gap_spaces(line, t[i].e, t[i + 1].s, 1) && fold_word(line, t[i].s, t[i].e, w, sizeof w) > 0 &&
			    name_has(&rs->first, w)) {
				add(c, t[i].s, t[i + 1].e, r, r->low);
				i++;
			}
			continue;
		}
		if (fold_word(line, t[i].s, t[i].e, w, sizeof w) < 0)
			continue;
		bool title = in_list(w, titles);
		bool first = !title && name_has(&rs->first, w);
		if (!first && !title) {
			/* Hans-Peter: the first part */
			char *h = strchr(w, '-');
			if (h) {
				*h = 0;
				first = nameset_has(&rs->first, w);
			}
		}
		bool last = !first && !title && name_has(&rs->last, w);
		if (!first && !title && !last) {
			/* "KlausSchäfer": OCR lost the space; a first name, then a capital */
			int k = t[i].s + 1;
			while (k < t[i].e && !(is_cap_at(line, t[i].e, k) && is_lower((unsigned char)line[k - 1])))
				k++;
			if (k < t[i].e && t[i].e - k >= 2 && fold_word(line, t[i].s, k, w, sizeof w) > 0 &&
			    nameset_has(&rs->first, w))
				add(c, t[i].s, t[i].e, r, r->conf);
			continue;
		}
		/* following words of the same name: capitalized, or a particle
		 * (von, van, de) before a capitalized one; titles skip "Dr." */
		int j = i, s = t[i].s;
		while (j + 1 < nt && j - i < 4) {
			int gs = t[j].e + (t[j].e < len && line[t[j].e] == '.' && title);
			if (!gap_spaces(line, gs, t[j + 1].s, 1)) /* two spaces: the next column */
				break;
			if (name_word(&t[j + 1])) {
				j++;
				continue;
			}
			if (fold_word(line, t[j + 1].s, t[j + 1].e, w, sizeof w) > 0 && in_list(w, particles) &&
			    j + 2 < nt && name_word(&t[j + 2]) && gap_spaces(line, t[j + 1].e, t[j + 2].s, 1)) {
				j += 2;
				continue;
			}
			break;
		}
		if (title) {
			/* Herr Dr. Kowalczyk: mask the words after the titles */
			int k = i + 1;
			while (k <= j && fold_word(line, t[k].s, t[k].e, w, sizeof w) > 0 && in_list(w, titles))
				k++;
			if (k <= j)
				add(c, t[k].s, t[j].e, r, r->conf);
			i = j;
			continue;
		}
		/* "Schmidt, Anna": a capitalized word, a comma, a first name */
		if (j == i && i + 1 < nt && t[i].e + 2 == t[i + 1].s && line[t[i].e] == ',' && line[t[i].e + 1] == ' ' &&
		    name_word(&t[i + 1]) && fold_word(line, t[i + 1].s, t[i + 1].e, w, sizeof w) > 0 &&
		    nameset_has(&rs->first, w)) {
			add(c, s, t[i + 1].e, r, r->conf);
			i++;
			continue;
		}
		if (j > i) {
			/* Schmidt Anna: a listed surname before a listed first name */
			bool sure = first;
			for (int k = i + 1; k <= j && !sure; k++)
				sure = fold_word(line, t[k].s, t[k].e, w, sizeof w) > 0 && nameset_has(&rs->first, w);
			add(c, s, t[j].e, r, sure ? r->conf : r->low);
		} else if (last && i > 0 && name_word(&t[i - 1]) && gap_spaces(line, t[i - 1].e, t[i].s, 1)) {
			/* "Jiirgen Johnson": a capitalized word, then a listed surname
			 * (the first name unlisted or damaged by OCR) */
			add(c, t[i - 1].s, t[i].e, r, r->low);
		} else
			add(c, s, t[i].e, r, first ? r->low : r->low * 0.8f);
		i = j;
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

static void scan_bic(const struct rule *r, const char *line, const struct tok *t, int nt, struct cands *c)
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
		add(c, t[i].s, t[i].e, r, strong ? r->conf : r->low);
	}
}

/* ---------------------------------------------------------------- labels */

/** Matches label @lb at line[p] (a word start). Returns the end of the label
 *  (after its required punctuation) or -1. Tolerates '-', '.', '_' and single
 *  spaces inside the label, lost umlauts (ä == a) and case. */
static int match_label(const char *line, int len, int p, const struct label *lb)
{
	int k = 0, q = p;
	while (k < lb->nfold) {
		if (q >= len)
			return -1;
		char f[2];
		int adv, nf = fold_at(line, len, q, f, &adv);
		if (nf == 0) {
			int ch = line[q];
			if (q == p || !(ch == '-' || ch == '.' || ch == '_' || (ch == ' ' && line[q - 1] != ' ')))
				return -1;
			q += adv;
			continue;
		}
		for (int i = 0; i < nf; i++, k++)
			if (k >= lb->nfold || lb->fold[k] != f[i])
				return -1;
		q += adv;
	}
	if (q < len && is_letterb((unsigned char)line[q]))
		return -1;
	if (lb->punct) {
		int e = q;
		while (e < len && line[e] == ' ' && e - q < 1)
			e++;
		if (e < len && (line[e] == lb->punct || (lb->punct == ':' && line[e] == ';')))
			return e + 1;
		return -1;
	}
	return q;
}

struct label_hit {
	int s, e;
	const struct rule *r;
};
#define MAX_LABEL_HITS 64

static const char *const months[] = {
	"jan", "feb", "mar", "mrz", "apr", "mai", "may", "jun", "jul", "aug", "sep", "okt", "oct", "nov", "dez", "dec", NULL,
};

/** End of the value of kind @vk that starts at @p (before @limit). */
static int label_value(const char *line, int limit, int p, enum vkind vk)
{
	if (vk == V_TEXT || vk == V_NAME) {
		/* to the next label, a column separator or a wide gap */
		int e = p;
		while (e < limit && line[e] != '|' && line[e] != '\t' &&
		       !(line[e] == ' ' && e + 2 < limit && line[e + 1] == ' ' && line[e + 2] == ' '))
			e++;
		while (e > p && (line[e - 1] == ' ' || line[e - 1] == ',' || line[e - 1] == ';' || line[e - 1] == ':'))
			e--;
		return e;
	}
	/* number / date: chunks with digits (dates: or month names), joined by single spaces */
	int e = p, chunks = 0;
	for (int q = p; q < limit && chunks < (vk == V_DATE ? 3 : 8);) {
		int s = q, digits = 0, upper = 0, lower = 0;
		while (q < limit && (is_wordb((unsigned char)line[q]) || line[q] == '-' || line[q] == '/' || line[q] == '.' ||
				     line[q] == '|')) {
			int ch = (unsigned char)line[q];
			digits += is_digit(ch);
			upper += is_upper(ch);
			lower += is_lower(ch) || (ch & 0x80);
			q++;
		}
		int ce = q;
		while (ce > s && (line[ce - 1] == '.' || line[ce - 1] == '-'))
			ce--;
		if (ce == s)
			break;
		bool take = digits > 0;
		if (!take && vk == V_NUMBER && chunks == 0 && lower == 0 && upper >= 4)
			take = true; /* BIC, account ids in capitals */
		if (!take && vk == V_DATE) {
			char w[16];
			if (fold_word(line, s, ce, w, sizeof w) >= 3) {
				w[3] = 0;
				take = in_list(w, months);
			}
		}
		if (!take)
			break;
		e = ce;
		chunks++;
		if (q < limit && line[q] == ',' && vk == V_DATE)
			q++;
		if (q < limit && line[q] == ' ')
			q++;
		else
			break;
	}
	return e;
}

static const char *const articles[] = {
	"der", "die", "das", "den", "dem", "des", "ein", "eine", "einen", "einem", "einer", "jeder", "jede", "kein", "keine",
	"ihr", "ihre", "ihren", "ihrem", "unser", "unsere", "the", "a", "an", "each", "every", "our", "your", "this", "that",
	"no", "per", "pro", "je", NULL,
};

/** The word before @p (one space before it) is an article or determiner. */
static bool after_article(const char *line, int p)
{
	if (p < 2 || line[p - 1] != ' ')
		return false;
	int e = p - 1, s = e;
	while (s > 0 && is_alpha((unsigned char)line[s - 1]))
		s--;
	if (s == e || e - s > 6 || (s > 0 && is_wordb((unsigned char)line[s - 1])))
		return false;
	char w[8];
	if (fold_word(line, s, e, w, sizeof w) < 0)
		return false;
	return in_list(w, articles);
}

static void scan_labels(const struct ls_pii_rules *rs, const char *line, int len, struct cands *c)
{
	struct label_hit h[MAX_LABEL_HITS];
	int nh = 0;
	for (int p = 0; p < len && nh < MAX_LABEL_HITS; p++) {
		if (!is_wordb((unsigned char)line[p]) || (p > 0 && is_wordb((unsigned char)line[p - 1])))
			continue;
		char f[2];
		int adv, b = fold_at(line, len, p, f, &adv) > 0 ? label_bucket(f[0]) : -1;
		if (b < 0)
			continue;
		int best_e = -1;
		const struct rule *best = NULL;
		const struct label *best_lb = NULL;
		for (int k = rs->lbucket[b]; k < rs->lbucket[b + 1]; k++) {
			int e = match_label(line, len, p, rs->lrefs[k].lb);
			if (e > best_e) { /* the longest label wins: Kundennummer over Kunde */
				best_e = e;
				best = rs->lrefs[k].r;
				best_lb = rs->lrefs[k].lb;
			}
		}
		/* a label that ends in a verb ("customer number is", "Kundennummer
		 * lautet") introduces its value even in a sentence */
		bool verb = best_lb && best_lb->nfold > 3 &&
			    (!strcmp(best_lb->fold + best_lb->nfold - 2, "is") ||
			     !strcmp(best_lb->fold + best_lb->nfold - 3, "ist") ||
			     (best_lb->nfold > 6 && !strcmp(best_lb->fold + best_lb->nfold - 6, "lautet")));
		bool colon = best && best_e < len && line[best_e] == ':';
		if (best && best_lb->punct == 0 && !verb && !colon && after_article(line, p))
			best = NULL; /* "der Kunde hat ...": a noun in a sentence, not a field */
		if (best) {
			h[nh++] = (struct label_hit){ p, best_e, best };
			p = best_e - 1;
		}
	}
	for (int i = 0; i < nh; i++) {
		int limit = i + 1 < nh ? h[i + 1].s : len;
		int p = h[i].e;
		/* between label and value: separators, and what OCR makes of a
		 * colon or a field's border and quotes ('!', '|', quotes) */
		for (;;) {
			if (p < limit && (line[p] == ' ' || line[p] == ':' || line[p] == ';' || line[p] == '=' || line[p] == '#' ||
					  line[p] == '\t' || line[p] == '!' || line[p] == '|' || line[p] == '"' || line[p] == '\'' ||
					  (line[p] == '.' && p == h[i].e) || (line[p] == '-' && line[p + 1] == ' '))) {
				p++;
				continue;
			}
			int pl = p < limit ? punct_len(line, limit, p) : 0;
			if (!pl)
				break;
			p += pl;
		}
		int e = label_value(line, limit, p, h[i].r->vk);
		if (e > p)
			add(c, p, e, h[i].r, h[i].r->conf);
	}
}

/* ----------------------------------------------------------------- regex */

static void scan_regex(const struct rule *r, const char *line, int len, struct cands *c)
{
	regmatch_t m;
	int off = 0, flags = 0;
	while (off <= len && regexec(&r->re, line + off, 1, &m, flags) == 0) {
		int s = off + (int)m.rm_so, e = off + (int)m.rm_eo;
		add(c, s, e, r, r->conf);
		off = e > s ? e : s + 1;
		flags = REG_NOTBOL;
	}
}

/* ------------------------------------------------------------------ scan */

/** Insertion sort by (start, end): at most MAX_CANDS entries, mostly in
 *  order already; glibc's qsort would malloc a 3 KiB merge buffer. */
static void sort_matches(struct ls_pii_match *m, int n)
{
	for (int i = 1; i < n; i++) {
		struct ls_pii_match x = m[i];
		int j = i;
		while (j > 0 && (m[j - 1].start > x.start || (m[j - 1].start == x.start && m[j - 1].end > x.end))) {
			m[j] = m[j - 1];
			j--;
		}
		m[j] = x;
	}
}

int ls_pii_scan(const struct ls_pii_rules *rs, const char *line, struct ls_pii_match *out, int max)
{
	if (!rs || !line || !out || max < 1)
		return -EINVAL;
	size_t slen = strlen(line);
	if (slen == 0)
		return 0;
	if (slen > LS_PII_MAX_LINE) {
		out[0] = (struct ls_pii_match){ 0, (int)(slen > INT32_MAX ? INT32_MAX : slen), "overflow", 1.0f };
		return 1;
	}
	int len = (int)slen;
	struct tok toks[MAX_TOKS];
	struct ngroup groups[MAX_GROUPS];
	struct cands c;
	c.n = 0;
	c.ov_start = c.ov_end = 0;
	int nt = tokenize(line, len, toks), ng = -1;
	bool labels_done = false;
	for (int i = 0; i < rs->n; i++) {
		const struct rule *r = &rs->rules[i];
		if ((r->type == T_CARD || r->type == T_STEUER) && ng < 0)
			ng = numeric_groups(line, len, groups);
		switch (r->type) {
		case T_IBAN: scan_iban(r, line, len, &c); break;
		case T_CARD: scan_card(r, line, groups, ng, &c); break;
		case T_STEUER: scan_steuer(r, groups, ng, &c); break;
		case T_AUSWEIS: scan_ausweis(r, line, toks, nt, &c); break;
		case T_MRZ: scan_mrz(r, line, len, &c); break;
		case T_EMAIL: scan_email(r, line, len, &c); break;
		case T_PHONE: scan_phone(r, line, len, &c); break;
		case T_STREET: scan_street(r, line, len, toks, nt, &c); break;
		case T_PLZ: scan_plz(r, line, len, toks, nt, &c); break;
		case T_NAMES: scan_names(r, rs, line, len, toks, nt, &c); break;
		case T_BIC: scan_bic(r, line, toks, nt, &c); break;
		case T_LABEL:
			if (!labels_done)
				scan_labels(rs, line, len, &c);
			labels_done = true;
			break;
		case T_REGEX:
		case T_IREGEX: scan_regex(r, line, len, &c); break;
		case T_NTYPES: break;
		}
	}
	if (c.ov_end > c.ov_start) { /* too many candidates: the last one grows over the rest */
		struct ls_pii_match *l = &c.m[MAX_CANDS - 1];
		l->start = c.ov_start < l->start ? c.ov_start : l->start;
		l->end = c.ov_end > l->end ? c.ov_end : l->end;
		if (c.ov_conf > l->confidence) {
			l->confidence = c.ov_conf;
			l->rule_id = c.ov_id;
		}
	}
	sort_matches(c.m, c.n);
	int n = 0;
	for (int i = 0; i < c.n; i++) {
		struct ls_pii_match m = c.m[i];
		if (n > 0 && m.start < out[n - 1].end) { /* overlap: merge */
			struct ls_pii_match *o = &out[n - 1];
			if (m.end > o->end)
				o->end = m.end;
			if (m.confidence > o->confidence) {
				o->confidence = m.confidence;
				o->rule_id = m.rule_id;
			}
			continue;
		}
		if (n == max) { /* no room: the last range covers everything after it */
			struct ls_pii_match *o = &out[n - 1];
			for (int k = i; k < c.n; k++)
				if (c.m[k].end > o->end)
					o->end = c.m[k].end;
			break;
		}
		out[n++] = m;
	}
	return n;
}

/* ------------------------------------------------------------- self-test */

static const struct {
	const char *kind, *line, *data;
} canaries[] = {
	{ "iban", "Betrag an DE89 3704 0044 0532 0130 00 senden", "DE89 3704 0044 0532 0130 00" },
	{ "card", "Karte 4111 1111 1111 1111 belastet", "4111 1111 1111 1111" },
	{ "steuer-id", "Steuer-ID 86 095 742 719", "86 095 742 719" },
	{ "email", "Antwort an canary@example.com bitte", "canary@example.com" },
	{ "phone", "Rückruf unter +49 30 1234567", "+49 30 1234567" },
	{ "name", "Name: Erika Mustermann", "Erika Mustermann" },
};

int ls_pii_self_test(const struct ls_pii_rules *r, const char *name, char **err)
{
	if (err)
		*err = NULL;
	if (!r)
		return -EINVAL;
	for (size_t i = 0; i < sizeof canaries / sizeof canaries[0]; i++) {
		struct ls_pii_match m[16];
		const char *line = canaries[i].line;
		int s = (int)(strstr(line, canaries[i].data) - line), e = s + (int)strlen(canaries[i].data);
		int n = ls_pii_scan(r, line, m, 16);
		bool covered = false;
		for (int k = 0; k < n && !covered; k++)
			covered = m[k].start <= s && m[k].end >= e;
		if (!covered) {
			if (err && asprintf(err, "%s: rules do not mask the %s canary \"%s\"", name ? name : "(rules)",
					    canaries[i].kind, canaries[i].data) < 0)
				*err = NULL;
			return -EINVAL;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- loader */

struct parser {
	const char *name; /* file name for messages */
	char *dir;        /* directory for relative names files, malloc'd or NULL */
	int line;
	char **err;
	struct ls_pii_rules *rs;
};

static int fail(struct parser *ps, int rc, const char *file, int line, const char *fmt, ...)
{
	if (ps->err && !*ps->err) {
		char msg[512];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof msg, fmt, ap);
		va_end(ap);
		char *s = NULL;
		int n = line > 0 ? asprintf(&s, "%s:%d: %s", file, line, msg) : asprintf(&s, "%s: %s", file, msg);
		*ps->err = n < 0 ? NULL : s;
	}
	return rc;
}

/** Next word or "quoted string" of *pp into @buf; returns its length, 0 at
 *  the end of the line, -1 for an unterminated quote, -2 if too long. */
static int next_word(const char **pp, char *buf, int cap, bool *quoted)
{
	const char *p = *pp;
	while (*p == ' ' || *p == '\t' || *p == '\r')
		p++;
	int n = 0;
	*quoted = false;
	if (*p == '"') {
		*quoted = true;
		p++;
		while (*p && *p != '"') {
			if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
				p++;
			if (n >= cap - 1)
				return -2;
			buf[n++] = *p++;
		}
		if (*p != '"')
			return -1;
		p++;
	} else {
		while (*p && *p != ' ' && *p != '\t' && *p != '\r') {
			if (n >= cap - 1)
				return -2;
			buf[n++] = *p++;
		}
	}
	buf[n] = 0;
	*pp = p;
	return n || *quoted ? (n ? n : 1) : 0;
}

static bool parse_conf(const char *s, float *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > 1)
		return false;
	*out = (float)v;
	return true;
}

static int add_name(struct parser *ps, struct nameset *ns, const char *file, int line, const char *word)
{
	char w[64];
	int n = fold_word(word, 0, (int)strlen(word), w, sizeof w);
	if (n < 2)
		return fail(ps, -EINVAL, file, line, "name '%s': too short or too long (2..63 letters)", word);
	for (const char *p = word; *p; p++)
		if (is_digit((unsigned char)*p) || *p == ' ')
			return fail(ps, -EINVAL, file, line, "name '%s': one word of letters per entry", word);
	if (nameset_add(ns, w) < 0)
		return fail(ps, -ENOMEM, file, line, "out of memory");
	return 0;
}

static int load_names(struct parser *ps, struct nameset *ns, const char *path)
{
	char *full = NULL;
	if (path[0] != '/' && ps->dir) {
		if (asprintf(&full, "%s/%s", ps->dir, path) < 0)
			return fail(ps, -ENOMEM, ps->name, ps->line, "out of memory");
	} else if (!(full = strdup(path))) {
		return fail(ps, -ENOMEM, ps->name, ps->line, "out of memory");
	}
	FILE *f = fopen(full, "r");
	if (!f) {
		int e = errno;
		fail(ps, -e, ps->name, ps->line, "names file '%s': %s", full, strerror(e));
		free(full);
		return -e;
	}
	char buf[256];
	int ln = 0, rc = 0;
	while (fgets(buf, sizeof buf, f)) {
		ln++;
		size_t l = strlen(buf);
		while (l > 0 && (buf[l - 1] == '\n' || buf[l - 1] == '\r' || buf[l - 1] == ' ' || buf[l - 1] == '\t'))
			buf[--l] = 0;
		char *s = buf;
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s || *s == '#')
			continue;
		if ((rc = add_name(ps, ns, full, ln, s)) < 0)
			break;
	}
	fclose(f);
	free(full);
	return rc;
}

static struct rule *new_rule(struct parser *ps)
{
	struct ls_pii_rules *rs = ps->rs;
	if (rs->n == rs->cap) {
		int ncap = rs->cap ? rs->cap * 2 : 32;
		struct rule *nr = realloc(rs->rules, (size_t)ncap * sizeof *nr);
		if (!nr)
			return NULL;
		rs->rules = nr;
		rs->cap = ncap;
	}
	struct rule *r = &rs->rules[rs->n++];
	memset(r, 0, sizeof *r);
	r->line = ps->line;
	return r;
}

static bool valid_id(const char *s)
{
	if (!*s || strlen(s) > 63)
		return false;
	for (; *s; s++)
		if (!(is_lower((unsigned char)*s) || is_digit((unsigned char)*s) || *s == '-' || *s == '_'))
			return false;
	return true;
}

static int parse_label_text(struct parser *ps, const char *text, struct label *lb)
{
	memset(lb, 0, sizeof *lb);
	int n = (int)strlen(text);
	if (n > 0 && (text[n - 1] == ':' || text[n - 1] == '.')) {
		lb->punct = text[n - 1];
		n--;
	}
	for (int p = 0; p < n;) {
		char f[2];
		int adv, k = fold_at(text, n, p, f, &adv);
		for (int i = 0; i < k; i++) {
			if (lb->nfold >= LABEL_MAX - 1)
				return fail(ps, -EINVAL, ps->name, ps->line, "label \"%s\" is too long", text);
			lb->fold[lb->nfold++] = f[i];
		}
		if (k == 0 && !(text[p] == ' ' || text[p] == '-' || text[p] == '.' || text[p] == '_'))
			return fail(ps, -EINVAL, ps->name, ps->line,
				    "label \"%s\": only letters, digits, spaces, '-', '.', '_' and a final ':' or '.'", text);
		p += adv;
	}
	if (lb->nfold == 0)
		return fail(ps, -EINVAL, ps->name, ps->line, "empty label");
	return 0;
}

static int parse_rule(struct parser *ps, const char *rest)
{
	char id[128], type[32], conf[32], w[256];
	bool q;
	const char *p = rest;
	if (next_word(&p, id, sizeof id, &q) <= 0 || q || !valid_id(id))
		return fail(ps, -EINVAL, ps->name, ps->line, "rule: expected an id of [a-z0-9_-], 1..63 chars");
	for (int i = 0; i < ps->rs->n; i++)
		if (strcmp(ps->rs->rules[i].id, id) == 0)
			return fail(ps, -EINVAL, ps->name, ps->line, "rule '%s' already defined on line %d", id,
				    ps->rs->rules[i].line);
	if (next_word(&p, type, sizeof type, &q) <= 0)
		return fail(ps, -EINVAL, ps->name, ps->line, "rule '%s': missing type", id);
	int t = 0;
	while (t < T_NTYPES && strcmp(type, type_names[t]) != 0)
		t++;
	if (t == T_NTYPES)
		return fail(ps, -EINVAL, ps->name, ps->line,
			    "rule '%s': unknown type '%s' (known: iban card steuer-id ausweis mrz email phone street "
			    "plz-city name-list bic label regex iregex)", id, type);
	float cf;
	if (next_word(&p, conf, sizeof conf, &q) <= 0 || !parse_conf(conf, &cf))
		return fail(ps, -EINVAL, ps->name, ps->line, "rule '%s': confidence must be a number in (0, 1]", id);
	struct rule *r = new_rule(ps);
	if (!r || !(r->id = strdup(id)))
		return fail(ps, -ENOMEM, ps->name, ps->line, "out of memory");
	r->type = (enum rtype)t;
	r->conf = cf;
	r->low = cf * 0.6f;
	if (t == T_REGEX || t == T_IREGEX) {
		while (*p == ' ' || *p == '\t')
			p++;
		size_t l = strlen(p);
		while (l > 0 && (p[l - 1] == ' ' || p[l - 1] == '\t' || p[l - 1] == '\r'))
			l--;
		if (l == 0)
			return fail(ps, -EINVAL, ps->name, ps->line, "rule '%s': missing regex", id);
		char *pat = strndup(p, l);
		if (!pat)
			return fail(ps, -ENOMEM, ps->name, ps->line, "out of memory");
		int rc = regcomp(&r->re, pat, REG_EXTENDED | (t == T_IREGEX ? REG_ICASE : 0));
		free(pat);
		if (rc != 0) {
			char eb[128];
			regerror(rc, &r->re, eb, sizeof eb);
			return fail(ps, -EINVAL, ps->name, ps->line, "rule '%s': bad regex: %s", id, eb);
		}
		r->has_re = true;
		return 0;
	}
	if (t == T_LABEL) {
		if (next_word(&p, w, sizeof w, &q) <= 0 || q)
			return fail(ps, -EINVAL, ps->name, ps->line, "rule '%s': label needs a value kind (name number text date)", id);
		int k = 0;
		while (k < V_NKINDS && strcmp(w, vkind_names[k]) != 0)
			k++;
		if (k == V_NKINDS)
			return fail(ps, -EINVAL, ps->name, ps->line, "rule '%s': unknown value kind '%s' (known: name number text date)",
				    id, w);
		r->vk = (enum vkind)k;
		int n;
		while ((n = next_word(&p, w, sizeof w, &q)) != 0) {
			if (n > 0 && !q && w[0] == '#')
				break;
			if (n < 0)
				return fail(ps, -EINVAL, ps->name, ps->line, "rule '%s': %s", id,
					    n == -1 ? "unterminated quote" : "label too long");
			if (!q)
				return fail(ps, -EINVAL, ps->name, ps->line, "rule '%s': labels are \"quoted\" (got '%s')", id, w);
			struct label *nl = realloc(r->labels, (size_t)(r->nlabels + 1) * sizeof *nl);
			if (!nl)
				return fail(ps, -ENOMEM, ps->name, ps->line, "out of memory");
			r->labels = nl;
			int rc = parse_label_text(ps, w, &r->labels[r->nlabels]);
			if (rc < 0)
				return rc;
			r->nlabels++;
		}
		if (r->nlabels == 0)
			return fail(ps, -EINVAL, ps->name, ps->line, "rule '%s': label needs at least one \"TEXT\"", id);
		return 0;
	}
	/* builtins: optional shape=LOW */
	int n;
	while ((n = next_word(&p, w, sizeof w, &q)) != 0) {
		if (n > 0 && !q && w[0] == '#')
			break;
		if (n > 0 && !q && strncmp(w, "shape=", 6) == 0) {
			float lo;
			if (!parse_conf(w + 6, &lo) || lo > cf)
				return fail(ps, -EINVAL, ps->name, ps->line,
					    "rule '%s': shape= must be a number in (0, %g]", id, (double)cf);
			r->low = lo;
			continue;
		}
		return fail(ps, -EINVAL, ps->name, ps->line, "rule '%s': unexpected '%s' (a %s rule takes only shape=LOW)", id,
			    n > 0 ? w : "\"", type);
	}
	return 0;
}

static int parse_line(struct parser *ps, const char *s)
{
	char w[32], kind[32], arg[512];
	bool q;
	const char *p = s;
	int n = next_word(&p, w, sizeof w, &q);
	if (n == 0 || w[0] == '#')
		return 0;
	if (n < 0 || q)
		return fail(ps, -EINVAL, ps->name, ps->line, "expected a directive (rule, names, name)");
	if (strcmp(w, "rule") == 0)
		return parse_rule(ps, p);
	if (strcmp(w, "names") == 0 || strcmp(w, "name") == 0) {
		if (next_word(&p, kind, sizeof kind, &q) <= 0 || (strcmp(kind, "first") && strcmp(kind, "last")))
			return fail(ps, -EINVAL, ps->name, ps->line, "%s: expected 'first' or 'last'", w);
		struct nameset *ns = kind[0] == 'f' ? &ps->rs->first : &ps->rs->last;
		if (strcmp(w, "names") == 0) {
			if (next_word(&p, arg, sizeof arg, &q) <= 0)
				return fail(ps, -EINVAL, ps->name, ps->line, "names %s: missing FILE", kind);
			char extra[8];
			if (next_word(&p, extra, sizeof extra, &q) != 0)
				return fail(ps, -EINVAL, ps->name, ps->line, "names %s: one FILE per line", kind);
			return load_names(ps, ns, arg);
		}
		int k = 0, rc;
		while ((n = next_word(&p, arg, sizeof arg, &q)) > 0) {
			if ((rc = add_name(ps, ns, ps->name, ps->line, arg)) < 0)
				return rc;
			k++;
		}
		if (k == 0)
			return fail(ps, -EINVAL, ps->name, ps->line, "name %s: expected one or more names", kind);
		return 0;
	}
	return fail(ps, -EINVAL, ps->name, ps->line, "unknown directive '%s' (known: rule, names, name)", w);
}

static int index_labels(struct parser *ps)
{
	struct ls_pii_rules *rs = ps->rs;
	int total = 0;
	for (int i = 0; i < rs->n; i++)
		total += rs->rules[i].type == T_LABEL ? rs->rules[i].nlabels : 0;
	if (total && !(rs->lrefs = calloc((size_t)total, sizeof *rs->lrefs)))
		return fail(ps, -ENOMEM, ps->name, 0, "out of memory");
	int k = 0;
	for (int b = 0; b < LABEL_BUCKETS; b++) {
		rs->lbucket[b] = k;
		for (int i = 0; i < rs->n; i++) {
			const struct rule *r = &rs->rules[i];
			for (int j = 0; r->type == T_LABEL && j < r->nlabels; j++)
				if (label_bucket(r->labels[j].fold[0]) == b)
					rs->lrefs[k++] = (struct label_ref){ r, &r->labels[j] };
		}
	}
	rs->lbucket[LABEL_BUCKETS] = k;
	return 0;
}

int ls_pii_rules_load_data(const char *text, const char *name, struct ls_pii_rules **out, char **err)
{
	if (err)
		*err = NULL;
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!name)
		name = "(rules)";
	struct parser ps = { .name = name, .err = err };
	if (!text)
		return fail(&ps, -EINVAL, name, 0, "no rules text");
	const char *slash = strrchr(name, '/');
	if (slash && !(ps.dir = strndup(name, (size_t)(slash - name > 0 ? slash - name : 1))))
		return fail(&ps, -ENOMEM, name, 0, "out of memory");
	ps.rs = calloc(1, sizeof *ps.rs);
	int rc = 0;
	if (!ps.rs) {
		rc = fail(&ps, -ENOMEM, name, 0, "out of memory");
		goto out;
	}
	char buf[2048];
	for (const char *p = text; *p && rc == 0;) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);
		ps.line++;
		if (l >= sizeof buf) {
			rc = fail(&ps, -EINVAL, name, ps.line, "line longer than %zu bytes", sizeof buf - 1);
			break;
		}
		memcpy(buf, p, l);
		buf[l] = 0;
		rc = parse_line(&ps, buf);
		p += l + (nl ? 1 : 0);
	}
	if (rc == 0 && ps.rs->n == 0)
		rc = fail(&ps, -EINVAL, name, ps.line > 0 ? ps.line : 1, "no rules (an empty rule set would mask nothing)");
	for (int i = 0; rc == 0 && i < ps.rs->n; i++)
		if (ps.rs->rules[i].type == T_NAMES && ps.rs->first.n == 0 && ps.rs->last.n == 0)
			rc = fail(&ps, -EINVAL, name, ps.rs->rules[i].line,
				  "rule '%s': name-list needs names ('names first FILE' or 'name first NAME...')",
				  ps.rs->rules[i].id);
	if (rc == 0)
		rc = index_labels(&ps);
out:
	free(ps.dir);
	if (rc < 0)
		ls_pii_rules_free(&ps.rs);
	*out = ps.rs;
	return rc;
}

int ls_pii_rules_load(const char *path, struct ls_pii_rules **out, char **err)
{
	if (err)
		*err = NULL;
	if (!path || !out)
		return -EINVAL;
	*out = NULL;
	struct parser ps = { .name = path, .err = err };
	FILE *f = fopen(path, "r");
	if (!f) {
		int e = errno;
		return fail(&ps, -e, path, 0, "cannot open rules file: %s", strerror(e));
	}
	char *text = NULL;
	size_t cap = 0, n = 0;
	char chunk[4096];
	size_t k;
	while ((k = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if (n + k + 1 > cap) {
			size_t ncap = (n + k + 1) * 2;
			char *nt = realloc(text, ncap);
			if (!nt) {
				free(text);
				fclose(f);
				return fail(&ps, -ENOMEM, path, 0, "out of memory");
			}
			text = nt;
			cap = ncap;
		}
		memcpy(text + n, chunk, k);
		n += k;
	}
	int rerr = ferror(f);
	fclose(f);
	if (rerr) {
		free(text);
		return fail(&ps, -EIO, path, 0, "read error");
	}
	if (!text && !(text = calloc(1, 1)))
		return fail(&ps, -ENOMEM, path, 0, "out of memory");
	text[n] = 0;
	if (strlen(text) != n) {
		free(text);
		return fail(&ps, -EINVAL, path, 0, "contains a NUL byte");
	}
	int rc = ls_pii_rules_load_data(text, path, out, err);
	free(text);
	return rc;
}

int ls_pii_redact_scan(void *rules, const char *line, struct ls_redact_match *out, int max)
{
	struct ls_pii_match m[64];
	int n = ls_pii_scan(rules, line, m, max < 64 ? max : 64);
	for (int i = 0; i < n; i++)
		out[i] = (struct ls_redact_match){ m[i].start, m[i].end, m[i].rule_id, m[i].confidence };
	return n < 0 ? 0 : n;
}
