/* ls_pii_text — the character classes, OCR repair, folding and word tokens
 * the personal-data detectors share (ls_pii_text.c). Private to
 * lib/ls_pii*.c; other modules use ls_pii.h. Positions and lengths are byte
 * offsets into the NUL-terminated UTF-8 line; all classes are ASCII and
 * locale independent, bytes >= 0x80 count as letters. */
#ifndef LS_PII_TEXT_H
#define LS_PII_TEXT_H

#include <stdbool.h>
#include <string.h>

#include "ls_pii.h"

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
static inline int ocr_digit(int c)
{
	if (is_digit(c))
		return c;
	switch (c) {
	case 'O':
	case 'o':
	case 'D':
	case 'Q':
		return '0';
	case 'I':
	case 'l':
	case '|':
	case 'i':
	case '!':
		return '1';
	case 'Z':
	case 'z':
		return '2';
	case 'S':
	case 's':
		return '5';
	case 'G':
	case 'b':
		return '6';
	case 'B':
		return '8';
	case 'g':
	case 'q':
		return '9';
	default:
		return -1;
	}
}

/** The upper-case letter an OCR'd character most likely stands for where a
 *  letter must be, or -1. */
static inline int ocr_letter(int c)
{
	if (is_alpha(c))
		return up(c);
	switch (c) {
	case '0':
		return 'O';
	case '1':
	case '|':
		return 'I';
	case '2':
		return 'Z';
	case '5':
		return 'S';
	case '6':
		return 'G';
	case '8':
		return 'B';
	default:
		return -1;
	}
}

/** Folds the character at line[p] for comparisons: ASCII letters lower case,
 *  digits kept, Latin-1 letters to their base letter (ä->a, ß->ss). Writes 0..2
 *  chars to @f, sets *adv to the bytes consumed. 0 chars: not a letter/digit. */
int pii_fold_at_utf8(const char *line, int len, int p, char f[2], int *adv);
/* ASCII, nearly every byte a detector reads, is folded here without a call
 * into ls_pii_text.c; the rest in pii_fold_at_utf8(). */
static inline int pii_fold_at(const char *line, int len, int p, char f[2], int *adv)
{
	unsigned char c = (unsigned char)line[p];

	if (is_alnum(c)) {
		*adv = 1;
		f[0] = (char)low(c);
		return 1;
	}
	return pii_fold_at_utf8(line, len, p, f, adv);
}

/** Upper-case start of a word: ASCII A-Z or À..Þ (not ×). */
bool pii_is_cap_at(const char *line, int len, int p);

/** Folds line[s,e) into @buf (NUL-terminated, at most cap-1 chars), keeping
 *  '-' and '\''. Returns the length or -1 if it did not fit. */
int pii_fold_word(const char *line, int s, int e, char *buf, int cap);

/** The folded word @w is one of @list (NULL-terminated, folded words). */
static inline bool in_list(const char *w, const char *const *list)
{
	for (int k = 0; list[k]; k++)
		if (list[k][0] == w[0] && strcmp(w, list[k]) == 0)
			return true;
	return false;
}

/* ---------------------------------------------------------------- tokens */

enum { TK_CAP = 1, TK_ALPHA = 2, TK_DIGIT = 4, TK_ALLDIGIT = 8, TK_LOWER = 16, TK_ASCII = 32 };
struct tok {
	int s, e;       /* byte range [s, e) in the line */
	unsigned flags; /* TK_* */
};
#define MAX_TOKS (LS_PII_MAX_LINE / 2 + 2)

/* U+2000..U+207F (quotes, dashes, bullets OCR puts next to words): not
 * part of a word. Returns its length in bytes, or 0. */
static inline int punct_len(const char *line, int len, int p)
{
	return (unsigned char)line[p] == 0xe2 && p + 2 < len &&
			       ((unsigned char)line[p + 1] == 0x80 || (unsigned char)line[p + 1] == 0x81)
		       ? 3
		       : 0;
}

/** Word tokens: maximal runs of word bytes, with '-' and '\'' inside a run
 *  (Karl-Marx-Straße, 4111-1111, O'Brien). Writes them to @t (room for
 *  MAX_TOKS) and returns their number. */
int pii_tokenize(const char *line, int len, struct tok *t);

/** Bytes between two tokens are only spaces, at most @maxsp of them. */
bool pii_gap_spaces(const char *line, int a, int b, int maxsp);

#endif
