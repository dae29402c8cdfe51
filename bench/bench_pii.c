/* bench-pii RULES [ROUNDS]: cost of ls_pii_scan() per OCR'd line, against a
 * peer measured in the same run: the same kinds of data found by a plain set
 * of POSIX extended regexes (one regexec per pattern and line, the way
 * regex-based redactors such as Presidio's pattern recognizers work), which
 * validates no checksum and repairs no OCR damage.
 *
 * Output: per line class the mean µs per line for both, and the overall
 * mean, p50 and p99 over all lines (each line timed over ROUNDS scans). */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ls_pii.h"

static const char *const lines[] = {
	/* ~60-char lines of the kinds a desktop shows */
	"Von: Erika Mustermann <erika.mustermann@web.de> 10:42",
	"Betreff: Ihre Rechnung Nr. 2026-00417 vom 21.11.2026",
	"anbei die Rechnung über 1.249,00 EUR. Bitte überweisen Sie",
	"IBAN: DE89 3704 0044 0532 0130 00 BIC: COBADEFFXXX",
	"100234 | Meier, Hans | Lindenstraße 12 | 50667 Köln",
	"Kreditkarte 4111 1111 1111 1111 gültig bis 12/28, CVC ***",
	"Windows 11 Pro Version 23H2 (Build 22631.2861) installiert",
	"Telefon: +49 (0) 89 / 123 456-78, Fax 089 1234599",
	"Steuer-ID: 12 345 678 995, Ausweis-Nr. T220001293",
	"The meeting starts at 10:30 in room 4.12; total 1,234.56 USD",
	"Sehr geehrter Herr Schulze-Wiegand, vielen Dank für Ihre",
	"Geburtsdatum: 01.01.1980, geb. in 20095 Hamburg, Deutschland",
};
#define NLINES (sizeof lines / sizeof lines[0])

/* The peer: shapes only, no checksums, no OCR repair. */
static const char *const peer_patterns[] = {
	"[A-Z]{2}[0-9]{2}( ?[A-Z0-9]{4}){2,7}( ?[A-Z0-9]{1,3})?",                                      /* IBAN */
	"[0-9]{4}[ -]?[0-9]{4}[ -]?[0-9]{4}[ -]?[0-9]{1,7}",                                           /* card */
	"[0-9]{2} ?[0-9]{3} ?[0-9]{3} ?[0-9]{3}",                                                      /* Steuer-ID */
	"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}",                                             /* e-mail */
	"(\\+|00)[1-9][0-9 ()/-]{6,18}[0-9]|0[1-9][0-9]{1,4}[ /-][0-9 -]{4,12}[0-9]",                  /* phone */
	"[A-ZÄÖÜ][a-zäöüß-]*(straße|strasse|str\\.|weg|platz|allee|gasse|ring|damm) [0-9]{1,4}[a-z]?", /* street */
	"[0-9]{5} [A-ZÄÖÜ][a-zäöüß]+",                                                                 /* PLZ + city */
	"[CFGHJKLMNPRTVWXYZ][CFGHJKLMNPRTVWXYZ0-9]{8}[0-9]?",                                          /* Ausweis */
	"[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?",                                                           /* BIC */
	"(Name|Vorname|Nachname|Kontoinhaber|Kunde|Kundennummer|Kontonummer|Geburtsdatum):? [^|]+",    /* labels */
};
#define NPEER (sizeof peer_patterns / sizeof peer_patterns[0])

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench-pii RULES [ROUNDS]\n");
		return 2;
	}
	int rounds = argc > 2 ? atoi(argv[2]) : 20000;
	struct ls_pii_rules *rules;
	char *err;
	if (ls_pii_rules_load(argv[1], &rules, &err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	regex_t peer[NPEER];
	for (size_t i = 0; i < NPEER; i++)
		if (regcomp(&peer[i], peer_patterns[i], REG_EXTENDED) != 0) {
			fprintf(stderr, "bench-pii: peer pattern %zu does not compile\n", i);
			return 1;
		}
	double ours[NLINES], theirs[NLINES];
	int found = 0, pfound = 0;
	for (size_t l = 0; l < NLINES; l++) {
		struct ls_pii_match m[32];
		double t0 = now_us();
		for (int k = 0; k < rounds; k++)
			found += ls_pii_scan(rules, lines[l], m, 32);
		ours[l] = (now_us() - t0) / rounds;
		t0 = now_us();
		for (int k = 0; k < rounds; k++)
			for (size_t i = 0; i < NPEER; i++) {
				/* every match of every pattern, as a redactor needs */
				regmatch_t rm;
				const char *s = lines[l];
				int fl = 0;
				while (*s && regexec(&peer[i], s, 1, &rm, fl) == 0) {
					pfound++;
					s += rm.rm_eo > rm.rm_so ? rm.rm_eo : rm.rm_so + 1;
					fl = REG_NOTBOL;
				}
			}
		theirs[l] = (now_us() - t0) / rounds;
		printf("%-62.62s  ls_pii %6.2f us  regex peer %7.2f us  (%zu bytes)\n", lines[l], ours[l], theirs[l],
		       strlen(lines[l]));
	}
	double so = 0, st = 0;
	for (size_t l = 0; l < NLINES; l++) {
		so += ours[l];
		st += theirs[l];
	}
	qsort(ours, NLINES, sizeof ours[0], cmp_d);
	qsort(theirs, NLINES, sizeof theirs[0], cmp_d);
	printf("ls_pii_scan: mean %.2f us/line, p50 %.2f, max %.2f (%d rules, %d ranges)\n", so / NLINES,
	       ours[NLINES / 2], ours[NLINES - 1], ls_pii_rules_count(rules), found / rounds);
	printf("regex peer:  mean %.2f us/line, p50 %.2f, max %.2f (%zu patterns, %d ranges)\n", st / NLINES,
	       theirs[NLINES / 2], theirs[NLINES - 1], NPEER, pfound / rounds);
	printf("ratio (peer / ls_pii, mean): %.1fx\n", st / so);
	for (size_t i = 0; i < NPEER; i++)
		regfree(&peer[i]);
	ls_pii_rules_free(&rules);
	return 0;
}
