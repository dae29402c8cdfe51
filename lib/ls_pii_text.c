/* ls_pii_text — how the personal-data detectors read a line: folding for
 * comparisons (case, umlauts, Latin Extended-A) and word tokens. The
 * character classes, the OCR repair of single characters and the other tiny
 * helpers are inline in ls_pii_text.h. */
#include "ls_pii_text.h"

#include <stdbool.h>
#include <string.h>

/* ---------------------------------------------------------------- chars */

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

/* pii_fold_at() for the bytes it does not fold inline (it folded ASCII
 * letters and digits; this still does, for callers that come here). */
int pii_fold_at_utf8(const char *line, int len, int p, char f[2], int *adv)
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

bool pii_is_cap_at(const char *line, int len, int p)
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

int pii_fold_word(const char *line, int s, int e, char *buf, int cap)
{
	int n = 0;
	for (int p = s; p < e;) {
		char f[2];
		int adv, k = pii_fold_at(line, e, p, f, &adv);
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

/* ---------------------------------------------------------------- tokens */

int pii_tokenize(const char *line, int len, struct tok *t)
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
		if (pii_is_cap_at(line, len, s))
			fl |= TK_CAP;
		t[n++] = (struct tok){ s, p, fl };
	}
	return n;
}

bool pii_gap_spaces(const char *line, int a, int b, int maxsp)
{
	if (b - a < 1 || b - a > maxsp)
		return false;
	for (int p = a; p < b; p++)
		if (line[p] != ' ')
			return false;
	return true;
}
