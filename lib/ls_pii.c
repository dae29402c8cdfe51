/* ls_pii — personal-data rules; see ls_pii.h for the contract and
 * rules/pii.rules for the file format. This file: the candidate ranges, user
 * regex rules, ls_pii_scan() and the self-test. The rest, sharing
 * ls_pii_private.h: ls_pii_text.[ch] (characters, OCR repair, word tokens),
 * ls_pii_numbers.c (IBAN, card, Steuer-ID, Personalausweis, MRZ, BIC),
 * ls_pii_contact.c (e-mail, phone, street, PLZ + city), ls_pii_names.c
 * (names, field labels), ls_pii_rules.c (the loader).
 *
 * Design: one pass tokenizes the line (word tokens on the stack, no
 * allocation), then each rule runs its detector over the bytes or the tokens
 * and adds candidate ranges; candidates are sorted and overlapping ones
 * merged. Builtins are hand-written rather than regexes: they need OCR repair
 * and checksums anyway, and glibc regexec costs microseconds per pattern per
 * line, which only user `regex` rules pay. All character classes are ASCII
 * and locale independent; bytes >= 0x80 count as letters (UTF-8). */
#include "ls_pii.h"
#include "ls_pii_private.h"

#include <errno.h>
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ candidates */

void pii_add(struct cands *c, int s, int e, const struct rule *r, float conf)
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

/* ----------------------------------------------------------------- regex */

static void scan_regex(const struct rule *r, const char *line, int len, struct cands *c)
{
	regmatch_t m;
	int off = 0, flags = 0;
	while (off <= len && regexec(&r->re, line + off, 1, &m, flags) == 0) {
		int s = off + (int)m.rm_so, e = off + (int)m.rm_eo;
		pii_add(c, s, e, r, r->conf);
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
	int nt = pii_tokenize(line, len, toks), ng = -1;
	bool labels_done = false;
	for (int i = 0; i < rs->n; i++) {
		const struct rule *r = &rs->rules[i];
		if ((r->type == T_CARD || r->type == T_STEUER) && ng < 0)
			ng = pii_numeric_groups(line, len, groups);
		switch (r->type) {
		case T_IBAN:
			pii_scan_iban(r, line, len, &c);
			break;
		case T_CARD:
			pii_scan_card(r, line, groups, ng, &c);
			break;
		case T_STEUER:
			pii_scan_steuer(r, groups, ng, &c);
			break;
		case T_AUSWEIS:
			pii_scan_ausweis(r, line, toks, nt, &c);
			break;
		case T_MRZ:
			pii_scan_mrz(r, line, len, &c);
			break;
		case T_EMAIL:
			pii_scan_email(r, line, len, &c);
			break;
		case T_PHONE:
			pii_scan_phone(r, line, len, &c);
			break;
		case T_STREET:
			pii_scan_street(r, line, len, toks, nt, &c);
			break;
		case T_PLZ:
			pii_scan_plz(r, line, len, toks, nt, &c);
			break;
		case T_NAMES:
			pii_scan_names(r, rs, line, len, toks, nt, &c);
			break;
		case T_BIC:
			pii_scan_bic(r, line, toks, nt, &c);
			break;
		case T_LABEL:
			if (!labels_done)
				pii_scan_labels(rs, line, len, &c);
			labels_done = true;
			break;
		case T_REGEX:
		case T_IREGEX:
			scan_regex(r, line, len, &c);
			break;
		case T_NTYPES:
			break;
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
