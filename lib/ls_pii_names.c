/* ls_pii_names — the detectors of words that say who someone is: person
 * names (the name lists, titles, particles) and field labels whose value is
 * masked ("Kundennummer", "Name:"). */
#include "ls_pii_private.h"

#include <stdbool.h>
#include <string.h>

/* ----------------------------------------------------------------- names */

/* clang-format off */
static const char *const titles[] = {
	"herr", "herrn", "frau", "hr", "fr", "mr", "mrs", "ms", "miss", "dr", "prof", "sir", "dame", NULL,
};
/* clang-format on */
/* clang-format off */
static const char *const particles[] = {
	"von", "van", "de", "der", "den", "zu", "di", "da", "du", "le", "la", "ter", "vom", "zur", "del", NULL,
};
/* clang-format on */

static bool name_word(const struct tok *t) { return (t->flags & TK_CAP) && !(t->flags & TK_DIGIT) && t->e - t->s >= 2; }

/* A name list lookup that also tries OCR's "ii" for "ü" (Jürgen -> Jiirgen;
 * the lists are folded, ü -> u). */
static bool name_has(const struct nameset *ns, const char *w)
{
	if (pii_nameset_has(ns, w))
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
	return pii_nameset_has(ns, alt);
}

void pii_scan_names(const struct rule *r, const struct ls_pii_rules *rs, const char *line, int len, const struct tok *t,
		    int nt, struct cands *c)
{
	char w[64];
	for (int i = 0; i < nt; i++) {
		/* "J. Doe": an initial and a capitalized word */
		if (t[i].e - t[i].s == 1 && is_upper((unsigned char)line[t[i].s]) && i + 1 < nt &&
		    t[i].e + 2 == t[i + 1].s && line[t[i].e] == '.' && line[t[i].e + 1] == ' ' &&
		    name_word(&t[i + 1]) && t[i + 1].e - t[i + 1].s >= 3 && !(t[i + 1].flags & TK_DIGIT)) {
			pii_add(c, t[i].s, t[i + 1].e, r, r->low);
			continue; /* the word may start a name itself */
		}
		if (!name_word(&t[i])) {
			/* "charlotte Meyer", "özlem Schulz": OCR lost the capital of a
			 * listed first name before a capitalized word */
			if (i + 1 < nt && !(t[i].flags & TK_DIGIT) && t[i].e - t[i].s >= 3 && name_word(&t[i + 1]) &&
			    pii_gap_spaces(line, t[i].e, t[i + 1].s, 1) &&
			    pii_fold_word(line, t[i].s, t[i].e, w, sizeof w) > 0 && name_has(&rs->first, w)) {
				pii_add(c, t[i].s, t[i + 1].e, r, r->low);
				i++;
			}
			continue;
		}
		if (pii_fold_word(line, t[i].s, t[i].e, w, sizeof w) < 0)
			continue;
		bool title = in_list(w, titles);
		bool first = !title && name_has(&rs->first, w);
		if (!first && !title) {
			/* Hans-Peter: the first part */
			char *h = strchr(w, '-');
			if (h) {
				*h = 0;
				first = pii_nameset_has(&rs->first, w);
			}
		}
		bool last = !first && !title && name_has(&rs->last, w);
		if (!first && !title && !last) {
			/* "KlausSchäfer": OCR lost the space; a first name, then a capital */
			int k = t[i].s + 1;
			while (k < t[i].e && !(pii_is_cap_at(line, t[i].e, k) && is_lower((unsigned char)line[k - 1])))
				k++;
			if (k < t[i].e && t[i].e - k >= 2 && pii_fold_word(line, t[i].s, k, w, sizeof w) > 0 &&
			    pii_nameset_has(&rs->first, w))
				pii_add(c, t[i].s, t[i].e, r, r->conf);
			continue;
		}
		/* following words of the same name: capitalized, or a particle
		 * (von, van, de) before a capitalized one; titles skip "Dr." */
		int j = i, s = t[i].s;
		while (j + 1 < nt && j - i < 4) {
			int gs = t[j].e + (t[j].e < len && line[t[j].e] == '.' && title);
			if (!pii_gap_spaces(line, gs, t[j + 1].s, 1)) /* two spaces: the next column */
				break;
			if (name_word(&t[j + 1])) {
				j++;
				continue;
			}
			if (pii_fold_word(line, t[j + 1].s, t[j + 1].e, w, sizeof w) > 0 && in_list(w, particles) &&
			    j + 2 < nt && name_word(&t[j + 2]) && pii_gap_spaces(line, t[j + 1].e, t[j + 2].s, 1)) {
				j += 2;
				continue;
			}
			break;
		}
		if (title) {
			/* Herr Dr. Kowalczyk: mask the words after the titles */
			int k = i + 1;
			while (k <= j && pii_fold_word(line, t[k].s, t[k].e, w, sizeof w) > 0 && in_list(w, titles))
				k++;
			if (k <= j)
				pii_add(c, t[k].s, t[j].e, r, r->conf);
			i = j;
			continue;
		}
		/* "Schmidt, Anna": a capitalized word, a comma, a first name */
		if (j == i && i + 1 < nt && t[i].e + 2 == t[i + 1].s && line[t[i].e] == ',' &&
		    line[t[i].e + 1] == ' ' && name_word(&t[i + 1]) &&
		    pii_fold_word(line, t[i + 1].s, t[i + 1].e, w, sizeof w) > 0 && pii_nameset_has(&rs->first, w)) {
			pii_add(c, s, t[i + 1].e, r, r->conf);
			i++;
			continue;
		}
		if (j > i) {
			/* Schmidt Anna: a listed surname before a listed first name */
			bool sure = first;
			for (int k = i + 1; k <= j && !sure; k++)
				sure = pii_fold_word(line, t[k].s, t[k].e, w, sizeof w) > 0 &&
				       pii_nameset_has(&rs->first, w);
			pii_add(c, s, t[j].e, r, sure ? r->conf : r->low);
		} else if (last && i > 0 && name_word(&t[i - 1]) && pii_gap_spaces(line, t[i - 1].e, t[i].s, 1)) {
			/* "Jiirgen Johnson": a capitalized word, then a listed surname
			 * (the first name unlisted or damaged by OCR) */
			pii_add(c, t[i - 1].s, t[i].e, r, r->low);
		} else
			pii_add(c, s, t[i].e, r, first ? r->low : r->low * 0.8f);
		i = j;
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
		int adv, nf = pii_fold_at(line, len, q, f, &adv);
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

/* clang-format off */
static const char *const months[] = {
	"jan", "feb", "mar", "mrz", "apr", "mai", "may", "jun", "jul", "aug", "sep", "okt", "oct", "nov", "dez", "dec", NULL,
};
/* clang-format on */

/** A cell ends at @e (before @limit): a column separator or a wide gap. */
static bool cell_sep(const char *line, int limit, int e)
{
	return line[e] == '|' || line[e] == '\t' ||
	       (line[e] == ' ' && e + 2 < limit && line[e + 1] == ' ' && line[e + 2] == ' ');
}

/** End of the cell that starts at @p (before @limit): to a column separator,
 *  a wide gap or a word that ends in a colon (the next field's label),
 *  trailing spaces and separators trimmed. */
static int cell_end(const char *line, int limit, int p)
{
	int e = p;
	while (e < limit && !cell_sep(line, limit, e)) {
		if (line[e] == ' ' && e > p) {
			int w = e + 1;
			while (w < limit && line[w] != ' ' && line[w] != '\t' && line[w] != ':')
				w++;
			if (w < limit && line[w] == ':' && w > e + 1)
				break; /* "Bemerkung:" */
		}
		e++;
	}
	while (e > p && (line[e - 1] == ' ' || line[e - 1] == ',' || line[e - 1] == ';'))
		e--;
	return e;
}

/** End of the value of kind @vk that starts at @p (before @limit). @prose:
 *  the label stood in running text (no colon, one space before the value):
 *  its value is a name only while its words are capitalized. */
static int label_value(const char *line, int limit, int p, enum vkind vk, bool prose)
{
	if (vk == V_TEXT || vk == V_NAME) {
		/* to the next label, a column separator or a wide gap */
		int e = p;
		while (e < limit && !cell_sep(line, limit, e))
			e++;
		while (e > p && line[e - 1] == ' ')
			e--;
		/* a cell that ends in a colon is the next field's label ("Name:
		 * <tab> Tarif:"), not this one's value */
		if (e > p && (line[e - 1] == ':' || line[e - 1] == ';'))
			return p;
		if (prose) {
			/* "Kunde bittet um ...": a noun in a sentence. "Kunde Müller
			 * hat angerufen": the capitalized words after it (and the
			 * particles between them) */
			int q = p, last = p;
			while (q < e) {
				int s = q;
				while (q < e && line[q] != ' ')
					q++;
				char w[8];
				bool cap = is_upper((unsigned char)line[s]) || ((unsigned char)line[s] & 0x80);
				if (!cap && !(pii_fold_word(line, s, q, w, sizeof w) > 0 && in_list(w, particles)))
					break;
				if (cap)
					last = q;
				while (q < e && line[q] == ' ')
					q++;
			}
			e = last;
		}
		while (e > p && (line[e - 1] == ' ' || line[e - 1] == ',' || line[e - 1] == ';' || line[e - 1] == ':' ||
				 (prose && line[e - 1] == '.')))
			e--;
		return e;
	}
	/* number / date: chunks with digits (dates: or month names), joined by single spaces */
	int e = p, chunks = 0;
	for (int q = p; q < limit && chunks < (vk == V_DATE ? 3 : 8);) {
		int s = q, digits = 0, upper = 0, lower = 0;
		while (q < limit && (is_wordb((unsigned char)line[q]) || line[q] == '-' || line[q] == '/' ||
				     line[q] == '.' || line[q] == '|')) {
			int ch = (unsigned char)line[q];
			digits += is_digit(ch);
			upper += is_upper(ch);
			lower += is_lower(ch) || (ch & 0x80);
			q++;
		}
		int ce = q;
		while (ce > s && (line[ce - 1] == '.' || line[ce - 1] == '-'))
			ce--;
		if (ce == s) {
			/* a lone dash between chunks: "KD -2025 - 273339" (OCR's spaces) */
			if (chunks > 0 && q > s && q < limit && line[s] == '-' && q - s == 1 && line[q] == ' ') {
				q++;
				continue;
			}
			break;
		}
		bool take = digits > 0;
		if (!take && vk == V_NUMBER && chunks == 0 && lower == 0 && upper >= 4)
			take = true; /* BIC, account ids in capitals */
		if (!take && vk == V_NUMBER && chunks == 0 && ce - s <= 4 && q < limit && line[q] == ' ') {
			/* a prefix OCR split off: "KD 2025-273339", "K 2025033964", "KD - 2016 - 796369" */
			int k = q + 1;
			if (k < limit && line[k] == '-')
				k++;
			if (k < limit && line[k] == ' ')
				k++;
			take = k < limit && is_digit((unsigned char)line[k]);
		}
		if (!take && vk == V_DATE) {
			char w[16];
			if (pii_fold_word(line, s, ce, w, sizeof w) >= 3) {
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

/* clang-format off */
static const char *const articles[] = {
	"der", "die", "das", "den", "dem", "des", "ein", "eine", "einen", "einem", "einer", "jeder", "jede", "kein", "keine",
	"ihr", "ihre", "ihren", "ihrem", "unser", "unsere", "the", "a", "an", "each", "every", "our", "your", "this", "that",
	"no", "per", "pro", "je", NULL,
};
/* clang-format on */

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
	if (pii_fold_word(line, s, e, w, sizeof w) < 0)
		return false;
	return in_list(w, articles);
}

void pii_scan_labels(const struct ls_pii_rules *rs, const char *line, int len, struct cands *c)
{
	struct label_hit h[MAX_LABEL_HITS];
	int nh = 0;
	for (int p = 0; p < len && nh < MAX_LABEL_HITS; p++) {
		if (!is_wordb((unsigned char)line[p]) || (p > 0 && is_wordb((unsigned char)line[p - 1])))
			continue;
		char f[2];
		int adv, b = pii_fold_at(line, len, p, f, &adv) > 0 ? label_bucket(f[0]) : -1;
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
			if (p < limit &&
			    (line[p] == ' ' || line[p] == ':' || line[p] == ';' || line[p] == '=' || line[p] == '#' ||
			     line[p] == '\t' || line[p] == '!' || line[p] == '|' || line[p] == '"' || line[p] == '\'' ||
			     (line[p] == '.' && p == h[i].e) || (line[p] == '-' && line[p + 1] == ' '))) {
				p++;
				continue;
			}
			/* what OCR makes of a field's border or its first letter: '+',
			 * brackets, '«' ... ("Kundennummer: + «2025033964") */
			if (p < limit && p - h[i].e < 8 &&
			    (line[p] == '+' || line[p] == '[' || line[p] == ']' || line[p] == '(' || line[p] == '{' ||
			     line[p] == '}' || line[p] == '<' || line[p] == '>' || line[p] == '~' || line[p] == '*' ||
			     line[p] == '`' || line[p] == '_')) {
				p++;
				continue;
			}
			int pl = p < limit ? punct_len(line, limit, p) : 0;
			if (!pl && p + 1 < limit && (unsigned char)line[p] == 0xc2 &&
			    (unsigned char)line[p + 1] >= 0xa0 && (unsigned char)line[p + 1] <= 0xbf && p - h[i].e < 8)
				pl = 2; /* Latin-1 punctuation: « » ¦ · ¬ */
			if (!pl)
				break;
			p += pl;
		}
		/* running text: the label had no colon and one space follows it */
		bool prose = h[i].e < len && line[h[i].e] == ' ' && p == h[i].e + 1 &&
			     !(h[i].e > 0 && line[h[i].e - 1] == ':') && (p >= limit || line[p] != ' ');
		int e = label_value(line, limit, p, h[i].r->vk, prose);
		/* a field label with a colon ("Telefon: josaa 631183", OCR's "0511"
		 * in a field's border): its value is the whole cell when it holds a
		 * digit, whatever OCR made of the rest, not only the chunks that
		 * parse as a number */
		if (h[i].r->vk == V_NUMBER && memchr(line + h[i].s, ':', (size_t)(p - h[i].s))) {
			int ce = cell_end(line, limit, p);
			bool digit = false; /* "Kundennummer: bitte angeben" is a prompt */
			for (int k = p; k < ce && !digit; k++)
				digit = is_digit((unsigned char)line[k]);
			if (digit && ce > e)
				e = ce;
		}
		if (e > p)
			pii_add(c, p, e, h[i].r, h[i].r->conf);
	}
}
