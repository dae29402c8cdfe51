/* Unit tests of the personal-data rules (lib/ls_pii.c) with the shipped
 * rules/pii.rules: for every rule valid, invalid and OCR-damaged inputs,
 * exact byte ranges and confidences, sentences, several matches per line,
 * merging, fail-closed limits, threads, and loader errors with FILE:LINE. */
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ls_pii.h"

static struct ls_pii_rules *rules; /* the shipped rules, loaded once in main() */

#define MAXM 32

static int scan(const char *line, struct ls_pii_match *m)
{
	int n = ls_pii_scan(rules, line, m, MAXM);
	g_assert_cmpint(n, >=, 0);
	for (int i = 0; i < n; i++) {
		g_assert_cmpint(m[i].start, <, m[i].end);
		g_assert_cmpint(m[i].end, <=, (int)strlen(line));
		if (i > 0)
			g_assert_cmpint(m[i - 1].end, <=, m[i].start); /* sorted, no overlap */
		g_assert_true(m[i].confidence > 0 && m[i].confidence <= 1);
	}
	return n;
}

static void dump(const char *line, const struct ls_pii_match *m, int n)
{
	g_printerr("line: \"%s\"\n", line);
	for (int i = 0; i < n; i++)
		g_printerr("  [%d,%d) \"%.*s\" %s %.2f\n", m[i].start, m[i].end, m[i].end - m[i].start,
			   line + m[i].start, m[i].rule_id, (double)m[i].confidence);
}

/** @line must contain a match covering exactly the first occurrence of @what,
 *  from rule @id with confidence @conf (±0.01; conf < 0: don't check). */
static void expect(const char *line, const char *what, const char *id, double conf)
{
	struct ls_pii_match m[MAXM];
	int n = scan(line, m);
	const char *at = strstr(line, what);
	g_assert_nonnull(at);
	int s = (int)(at - line), e = s + (int)strlen(what);
	for (int i = 0; i < n; i++) {
		if (m[i].start == s && m[i].end == e) {
			if (strcmp(m[i].rule_id, id) != 0 ||
			    (conf >= 0 && (m[i].confidence < conf - 0.01 || m[i].confidence > conf + 0.01))) {
				dump(line, m, n);
				g_error("\"%s\": rule %s conf %.2f, expected %s %.2f", what, m[i].rule_id,
					(double)m[i].confidence, id, conf);
			}
			return;
		}
	}
	dump(line, m, n);
	g_error("\"%s\" not matched exactly (expected %s)", what, id);
}

/** @what (first occurrence) lies inside some match. */
static void expect_covered(const char *line, const char *what)
{
	struct ls_pii_match m[MAXM];
	int n = scan(line, m);
	const char *at = strstr(line, what);
	g_assert_nonnull(at);
	int s = (int)(at - line), e = s + (int)strlen(what);
	for (int i = 0; i < n; i++)
		if (m[i].start <= s && m[i].end >= e)
			return;
	dump(line, m, n);
	g_error("\"%s\" is not masked", what);
}

static void expect_none(const char *line)
{
	struct ls_pii_match m[MAXM];
	int n = scan(line, m);
	if (n != 0) {
		dump(line, m, n);
		g_error("expected no match");
	}
}

/** No match from rule @id anywhere in @line. */
static void expect_no_rule(const char *line, const char *id)
{
	struct ls_pii_match m[MAXM];
	int n = scan(line, m);
	for (int i = 0; i < n; i++)
		if (strcmp(m[i].rule_id, id) == 0) {
			dump(line, m, n);
			g_error("unexpected %s match", id);
		}
}

/* ------------------------------------------------------------------ IBAN */

static void test_iban(void)
{
	/* clang-format off */
	static const char *valid[] = {
		"DE89 3704 0044 0532 0130 00", "DE89370400440532013000", "GB29 NWBK 6016 1331 9268 19",
		"AT61 1904 3002 3457 3201", "CH93 0076 2011 6238 5295 7", "FR14 2004 1010 0505 0001 3M02 606",
		"NL91 ABNA 0417 1643 00", "ES91 2100 0418 4502 0005 1332", "IT60 X054 2811 1010 0000 0123 456",
		"BE68 5390 0754 7034", "PL61 1090 1014 0000 0712 1981 2874", "LU28 0019 4006 4475 0000",
		"DE89-3704-0044-0532-0130-00",
	};
	/* clang-format on */
	for (size_t i = 0; i < G_N_ELEMENTS(valid); i++)
		expect(valid[i], valid[i], "iban", 0.99);
	/* in sentences, with text after it */
	expect("Bitte überweisen Sie an DE89 3704 0044 0532 0130 00 bis Freitag.", "DE89 3704 0044 0532 0130 00",
	       "iban", 0.99);
	expect("IBAN: DE89 3704 0044 0532 0130 00 BIC: COBADEFFXXX", "DE89 3704 0044 0532 0130 00", "iban", 0.99);
	expect("IBAN: DE89 3704 0044 0532 0130 00 BIC: COBADEFFXXX", "COBADEFFXXX", "account-label", 0.9);
	/* OCR damage repaired, checksum still valid: O/0, l/1, S/5, B/8, Z/2, missing and stray spaces */
	expect("DE89 37O4 OO44 O532 Ol3O OO", "DE89 37O4 OO44 O532 Ol3O OO", "iban", 0.99);
	expect("DE89 3704 0044 0S32 0130 00", "DE89 3704 0044 0S32 0130 00", "iban", 0.99);
	expect("DE893704 0044 05320130 00", "DE893704 0044 05320130 00", "iban", 0.99);
	expect("DE89 3704  0044 0532 0130 00", "DE89 3704  0044 0532 0130 00", "iban", 0.99);
	expect("GB29 NWBK 6Ol6 1331 9268 19", "GB29 NWBK 6Ol6 1331 9268 19", "iban", 0.99);
	expect("NL91 A8NA 0417 1643 00", "NL91 A8NA 0417 1643 00", "iban", 0.99); /* 8 for B in the letter part */
	expect("PL61 1090 1014 0000 0712 198l 2874", "PL61 1090 1014 0000 0712 198l 2874", "iban", 0.99);
	/* wrong checksum or length: still masked by shape, lower confidence */
	expect("DE88 3704 0044 0532 0130 00", "DE88 3704 0044 0532 0130 00", "iban", 0.7);
	expect("DE89 3704 0044 0532 0130", "DE89 3704 0044 0532 0130", "iban", 0.7);
	expect("XY12 3456 7890 1234 56", "XY12 3456 7890 1234 56", "iban", 0.56); /* unknown country */
	/* two per line */
	const char *two = "von AT61 1904 3002 3457 3201 an BE68 5390 0754 7034";
	expect(two, "AT61 1904 3002 3457 3201", "iban", 0.99);
	expect(two, "BE68 5390 0754 7034", "iban", 0.99);
	/* not IBANs */
	expect("AT61 1904 3002 3457 320", "AT61 1904 3002 3457 320", "iban", 0.7); /* AT is 20 long: 19 = shape */
	expect("de89 3704 0044 0532 0130 00", "de89 3704 0044 0532 0130 00", "iban", 0.99); /* lower case */
	expect("0E89 3704 0044 0532 0130 00", "0E89 3704 0044 0532 0130 00", "iban", 0.99); /* D read as 0 */
	expect("OE89 3704 0044 0532 0130 00", "OE89 3704 0044 0532 0130 00", "iban", 0.99); /* D read as O */
	expect("0E89 3704 0044 0532 0130 01", "0E89 3704 0044 0532 0130 01", "iban", 0.7);  /* and a wrong digit */
	expect_none("Der Bericht DE12 ist fertig");
	expect_none("Version AB12 build 7");
	expect_none("Die Deutsche Bank hat geschlossen");
	expect_no_rule("Order DE12 3456", "iban");
}

/* ------------------------------------------------------------------ card */

static void test_card(void)
{
	/* clang-format off */
	static const char *valid[] = {
		"4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111111", "5555 5555 5555 4444",
		"2221 0000 0000 0009", /* Mastercard 2-series */
		"3782 822463 10005",   /* Amex */
		"6011 1111 1111 1117", "3056 9309 0259 04", "3530 1113 3330 0000", "6200 0000 0000 0005",
	};
	/* clang-format on */
	for (size_t i = 0; i < G_N_ELEMENTS(valid); i++)
		expect(valid[i], valid[i], "card", 0.95);
	expect("Zahlung mit Karte 4111 1111 1111 1111 am 21.11.2026", "4111 1111 1111 1111", "card", 0.95);
	/* OCR damage inside groups repaired: l/1, O/0, S/5 */
	expect("4l11 1111 1111 1111", "4l11 1111 1111 1111", "card", 0.95);
	expect("4111.1111.1111.1111", "4111.1111.1111.1111", "card", 0.95); /* dots between groups */
	expect("41111111 11111111", "41111111 11111111", "card", 0.95);
	expect("5555 5555 SS55 4444", "5555 5555 SS55 4444", "card", 0.95);
	expect("6O11 1111 1111 1117", "6O11 1111 1111 1117", "card", 0.95);
	/* Luhn fails but issuer + card grouping: shape */
	expect("4111 1111 1111 1112", "4111 1111 1111 1112", "card", 0.6);
	/* any three or more 4-digit groups: a damaged IBAN or card body */
	expect("Ref 1234 5678 9012 3456", "1234 5678 9012 3456", "card", 0.48);
	/* a digit lost or doubled by OCR: issuer prefix + card grouping, shape */
	expect("4111 1111 1111 111", "4111 1111 1111 111", "card", 0.6);
	expect("5555 5555 5555 44444", "5555 5555 5555 44444", "card", 0.6);
	expect("3782 82246 10005", "3782 82246 10005", "card", 0.6);
	/* Luhn valid, unknown issuer: shape */
	expect("1234567890123452", "1234567890123452", "card", 0.6);
	/* not cards */
	expect_none("1234567890123456"); /* no Luhn, no issuer */
	expect_none("Rechnung vom 21.11.2026 über 1.234,56 EUR");
	expect_none("Version 4.1.11 build 1111");
	expect_no_rule("4111 1111", "card");                              /* too short */
	expect("+49 4111 1111 1111", "+49 4111 1111 1111", "phone", 0.9); /* not a card */
	/* two cards */
	const char *two = "4111 1111 1111 1111 oder 5555 5555 5555 4444";
	expect(two, "4111 1111 1111 1111", "card", 0.95);
	expect(two, "5555 5555 5555 4444", "card", 0.95);
	/* Card labels take any number after them */
	expect("Kartennummer: 9999 8888 77", "9999 8888 77", "account-label", 0.9);
}

/* ------------------------------------------------------------- Steuer-ID */

static void test_steuer_id(void)
{
	expect("12345678995", "12345678995", "steuer-id", 0.95);
	expect("86095742719", "86095742719", "steuer-id", 0.95);
	expect("65929970489", "65929970489", "steuer-id", 0.95); /* a digit three times (2016 rule) */
	expect("11213456783", "11213456783", "steuer-id", 0.95); /* three times, not all adjacent */
	expect("Ihre Steuer-ID lautet 86 095 742 719.", "86 095 742 719", "steuer-id", 0.95);
	expect("ID 12 345 678 995 gespeichert", "12 345 678 995", "steuer-id", 0.95);
	expect("86O95742719", "86O95742719", "steuer-id", 0.95); /* O read for 0 */
	expect_no_rule("12345678990", "steuer-id");              /* wrong check digit */
	expect_no_rule("12345678903", "steuer-id");              /* check fits, but no digit repeats */
	expect_no_rule("11123456786", "steuer-id");              /* check fits, a digit three times in a row */
	expect_no_rule("02345678995", "steuer-id");              /* leading zero */
	expect_no_rule("1234567899", "steuer-id");               /* 10 digits */
	expect_none("Seite 12 von 345");
	/* label: any number after it, even an invalid one */
	expect("Steuer-IdNr.: 12345678990", "12345678990", "account-label", 0.9);
}

/* --------------------------------------------------------------- Ausweis */

static void test_ausweis(void)
{
	expect("T220001293", "T220001293", "ausweis", 0.9);
	expect("Ausweis T220001293 gültig bis 2030", "T220001293", "ausweis", 0.9);
	expect("T22OOO1293", "T22OOO1293", "ausweis", 0.9); /* O for 0 */
	expect("T220001294", "T220001294", "ausweis", 0.5); /* wrong check digit: shape */
	expect("T22000129", "T22000129", "ausweis", 0.5);   /* without check digit */
	expect("L01X00T47", "L01X00T47", "ausweis", 0.5);
	expect("LYM68VW4K4", "LYM68VW4K4", "ausweis", 0.9); /* mostly letters, valid check digit */
	expect("LYMG8VW4K4", "LYMG8VW4K4", "ausweis", 0.9); /* 6 read as G (in the alphabet): retried */
	expect_none("LYM68VW4K5");                          /* the same with a wrong one: too few digits */
	expect_none("ABCDEFGHIJ");
	expect_no_rule("A220001293", "ausweis");            /* A is not in the alphabet of the first char */
	expect_no_rule("TAE0001293", "ausweis");            /* nor A, E (vowels are never used) */
	expect_no_rule("123456789", "ausweis");             /* first char must be a letter */
	expect_no_rule("Tabelle12", "ausweis");             /* too few digits */
	expect_none("positions mismatches likelihood");     /* words in the alphabet after OCR repair */
	expect_none("libx264rgb");                          /* lower case that no digit explains */
	expect("LJGRGYTGJl", "LJGRGYTGJl", "ausweis", 0.9); /* l for the check digit 1 */
	/* the machine-readable zone: the whole line */
	expect("IDD<<T220001293<<<<<<<<<<<<<<<", "IDD<<T220001293<<<<<<<<<<<<<<<", "mrz", 0.9);
	expect("6408125<2010315D<<<<<<<<<<<<<4", "6408125<2010315D<<<<<<<<<<<<<4", "mrz", 0.9);
	expect("MUSTERMANN<<ERIKA<<<<<<<<<<<<<", "MUSTERMANN<<ERIKA<<<<<<<<<<<<<", "mrz", 0.9);
	expect_no_rule("A<<B", "mrz");
	expect("IDD««T220001293«««««««««««««««", "IDD««T220001293«««««««««««««««", "mrz", 0.9); /* « for << */
	expect("IDDKKT220001293KKKKKKKKKKKKKKK", "IDDKKT220001293KKKKKKKKKKKKKKK", "mrz", 0.9); /* K for < */
	expect_no_rule("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "mrz");
	expect("Ausweisnummer: LZ6311T47", "LZ6311T47", "account-label", 0.9);
}

/* ---------------------------------------------------------------- e-mail */

static void test_email(void)
{
	expect("max.mustermann@example.com", "max.mustermann@example.com", "email", 0.95);
	expect("Schreiben Sie an info@firma-x.de oder rufen Sie an.", "info@firma-x.de", "email", 0.95);
	expect("a_b+c%d-e@mail.example.co.uk,", "a_b+c%d-e@mail.example.co.uk", "email", 0.95);
	/* OCR: spaces around @ and dot, comma for dot, © for @ */
	expect("max.mustermann @ example . com", "max.mustermann @ example . com", "email", 0.95);
	expect("max@example,com", "max@example,com", "email", 0.95);
	expect("info©firma.de", "info©firma.de", "email", 0.6);
	expect("root@localhost", "root@localhost", "email", 0.6);
	expect("max_mustermann(at)gmail.com", "max_mustermann(at)gmail.com", "email", 0.95);
	expect("info [at] firma.de", "info [at] firma.de", "email", 0.95);
	expect("Mail: erika. mustermann@web.de", "erika. mustermann@web.de", "email", 0.95);
	expect("Mail: erika _mustermann@web.de", "erika _mustermann@web.de", "email", 0.95);
	/* two addresses */
	const char *two = "Cc a@b.de; c@d.org";
	expect(two, "a@b.de", "email", 0.95);
	expect(two, "c@d.org", "email", 0.95);
	/* sentence end: the dot is not part of the address; ", Tel" not either */
	expect("Mail an max@example.com. Danke", "max@example.com", "email", 0.95);
	expect("max@example.com, Tel. folgt", "max@example.com", "email", 0.95);
	expect_none("Preis @ 5");
	expect_none("user@");
	expect_none("@example.com");
	expect_none("@mention und #tag");
}

/* ----------------------------------------------------------------- phone */

static void test_phone(void)
{
	expect("+49 30 1234567", "+49 30 1234567", "phone", 0.9);
	expect("+49 (0)30 123 456 78", "+49 (0)30 123 456 78", "phone", 0.9);
	expect("+491511234567", "+491511234567", "phone", 0.9);
	expect("+1 (555) 123-4567", "+1 (555) 123-4567", "phone", 0.9);
	expect("+44 20 7946 0958", "+44 20 7946 0958", "phone", 0.9);
	expect("0049 30 1234567", "0049 30 1234567", "phone", 0.9);
	expect("030 1234567", "030 1234567", "phone", 0.7);
	expect("0151-12345678", "0151-12345678", "phone", 0.7);
	expect("030/1234567", "030/1234567", "phone", 0.7);
	expect("(030) 12 34 56", "(030) 12 34 56", "phone", 0.7);
	expect("(555) 123-4567", "(555) 123-4567", "phone", 0.7);
	expect("01511234567", "01511234567", "phone", 0.5);
	expect("555-123-4567", "555-123-4567", "phone", 0.5);
	expect("Rufen Sie 0151 1234 5678 an", "0151 1234 5678", "phone", 0.7);
	expect("030 12345O7", "030 12345O7", "phone", 0.7);       /* O for 0 inside the number */
	expect("+49 30 l234567", "+49 30 l234567", "phone", 0.9); /* l for 1 starting a group */
	expect("+49 (O)176 8805868", "+49 (O)176 8805868", "phone", 0.9);
	expect("O30 1234567", "O30 1234567", "phone", 0.7);   /* O for the leading 0 */
	expect("0 30 1234567", "0 30 1234567", "phone", 0.5); /* a stray space in the area code */
	/* labels */
	expect("Tel.: 12 34 56", "12 34 56", "account-label", 0.9);
	/* not phones: dates, amounts, versions, times, counts */
	expect_none("am 21.11.2026 um 10:30");
	expect_none("01.02.2024");
	expect_none("2026-11-21");
	expect_none("01-02-2024");
	expect_none("07/2024");
	expect_none("Betrag 1.234,56 EUR, 0,50 EUR Gebühr");
	expect_none("Version 0.9.1 und 10.0.19045");
	expect_none("Seite 3 von 12, 250 Einträge");
	expect_none("030 12");                              /* too short */
	expect_no_rule("+49 1234 5678 9012 3456", "phone"); /* longer than E.164 */
	expect_none("ab 0,99 EUR (inkl. 19% MwSt.)");
	/* two numbers */
	const char *two = "Tel 030 1234567, Fax +49 30 7654321";
	expect(two, "030 1234567", "phone", 0.7);
	expect(two, "+49 30 7654321", "phone", 0.9);
}

/* ---------------------------------------------------------------- street */

static void test_street(void)
{
	expect("Hauptstr. 5a", "Hauptstr. 5a", "street", 0.85);
	expect("Hauptstr.5", "Hauptstr.5", "street", 0.85);
	expect("Hauptstraße 12", "Hauptstraße 12", "street", 0.85);
	expect("Hauptstrasse 12-14", "Hauptstrasse 12-14", "street", 0.85);
	expect("Hauptstrabe 12", "Hauptstrabe 12", "street", 0.85); /* ß read as b */
	expect("Berliner Straße 7", "Berliner Straße 7", "street", 0.85);
	expect("Frankfurter Allee 34", "Frankfurter Allee 34", "street", 0.85);
	expect("Karl-Marx-Allee 90", "Karl-Marx-Allee 90", "street", 0.85);
	expect("Am Lindenweg 3", "Lindenweg 3", "street", 0.85);
	expect("Schlossplatz l2", "Schlossplatz l2", "street", 0.85); /* l for 1 */
	expect("Lindenstraße12", "Lindenstraße12", "street", 0.85);   /* space lost */
	expect("Lindenstr 12", "Lindenstr 12", "street", 0.85);       /* dot lost */
	expect("HauptstraßeS3b", "HauptstraßeS3b", "street", 0.85);   /* space lost, 5 read as S */
	expect("Am Markt4Zb", "Am Markt4Zb", "street", 0.85);
	expect("Goethestraße B", "Goethestraße B", "street", 0.85); /* 8 read as B */
	expect("Schulstraße Gb", "Schulstraße Gb", "street", 0.85);
	expect("Schulstraße lb", "Schulstraße lb", "street", 0.85);
	expect_no_rule("Mühlenweg A", "street"); /* A is no digit */
	expect("221B Baker Street", "221B Baker Street", "street", 0.85);
	expect("123 Main St.", "123 Main St.", "street", 0.85);
	expect("10 Downing Street, London", "10 Downing Street", "street", 0.85);
	expect("meet at Baker St tomorrow", "Baker St", "street", 0.5);
	expect_no_rule("Zahnarztpraxis Dr. Kowalczyk", "street"); /* Dr without a number is a title */
	const char *addr = "Musterstraße 1, 10115 Berlin";
	expect(addr, "Musterstraße 1", "street", 0.85);
	expect(addr, "10115 Berlin", "plz-city", 0.8);
	expect_none("Die Straße ist lang");
	expect_none("Auf dem Weg nach Hause");
	expect("Straße 5", "Straße 5", "street", 0.85); /* the street name may be on the line above: mask */
}

static void test_plz_city(void)
{
	expect("10115 Berlin", "10115 Berlin", "plz-city", 0.8);
	expect("D-80331 München", "D-80331 München", "plz-city", 0.8);
	expect("60311 Frankfurt am Main", "60311 Frankfurt am Main", "plz-city", 0.8);
	expect("06108 Halle (Saale)", "06108 Halle (Saale)", "plz-city", 0.8);
	expect("8O331 Munchen", "8O331 Munchen", "plz-city", 0.8); /* O for 0, umlaut lost */
	expect("wohnhaft in 20095 Hamburg seit", "20095 Hamburg", "plz-city", 0.8);
	expect("10115Berlin", "10115Berlin", "plz-city", 0.8);   /* space lost */
	expect("O1067Dresden", "O1067Dresden", "plz-city", 0.8); /* and O for 0 */
	expect("603l1 Frankfurt amMain", "603l1 Frankfurt amMain", "plz-city", 0.8);
	expect_none("12345 EUR");
	expect_none("Bestellung 12345 vom Montag");
	expect_none("2026 Berlin");
	expect_none("00123 Nowhere");
}

/* ----------------------------------------------------------------- names */

static void test_names(void)
{
	expect("Anna Schmidt", "Anna Schmidt", "name", 0.85);
	expect("Sehr geehrte Anna Schmidt,", "Anna Schmidt", "name", 0.85);
	expect("Jürgen Müller", "Jürgen Müller", "name", 0.85);
	expect("Jurgen Muller", "Jurgen Muller", "name", 0.85);               /* umlauts lost */
	expect("Hans-Peter Kowalczyk", "Hans-Peter Kowalczyk", "name", 0.85); /* surname not in the list */
	expect("Ludwig van Beethoven", "Ludwig van Beethoven", "name", 0.85);
	expect("ANNA SCHMIDT", "ANNA SCHMIDT", "name", 0.85);
	expect("Herr Dr. Kowalczyk", "Kowalczyk", "name", 0.85);
	expect("Guten Tag Frau Wyszynski", "Wyszynski", "name", 0.85);
	expect("Mr Smith", "Smith", "name", 0.85);
	expect("Schmidt, Anna", "Schmidt, Anna", "name", 0.85);
	expect("Hallo Anna, wie geht's?", "Anna", "name", 0.5); /* lone first name */
	expect("Schmidt Anna", "Schmidt Anna", "name", 0.85);
	expect("Schmidt Kowalczyk", "Schmidt Kowalczyk", "name", 0.5); /* a surname + a word: low */
	expect("signed J. Kowalczyk", "J. Kowalczyk", "name", 0.5);    /* an initial */
	expect("Ticket von Schmidt", "Schmidt", "name", 0.4);          /* lone surname */
	expect("KlausSchafer", "KlausSchafer", "name", 0.85);          /* OCR lost the space */
	expect("JonasÖzturk", "JonasÖzturk", "name", 0.85);
	expect("Mehmet Yılmaz", "Mehmet Yılmaz", "name", 0.85); /* Latin Extended-A folded: ı = i */
	expect("Łukasz Wiśniewski", "Łukasz Wiśniewski", "name", 0.85);
	expect("Herr Dvořák", "Dvořák", "name", 0.85);
	expect_none("JavaScript und TypeScript");
	const char *two = "Anna Schmidt und Peter Weber";
	expect(two, "Anna Schmidt", "name", 0.85);
	expect(two, "Peter Weber", "name", 0.85);
	expect_none("Die neue Version ist da");
	expect_none("the quick brown fox");
	expect_none("Herr und Frau");
}

/* ---------------------------------------------------------------- labels */

static void test_labels(void)
{
	expect("Name: Erika Mustermann", "Erika Mustermann", "name-label", 0.9);
	expect("Name : Kowalczyk Wyszynski", "Kowalczyk Wyszynski", "name-label", 0.9);
	expect("Vorname Erika", "Erika", "name-label", 0.9);
	expect("Kontoinhaber Xaver Yilmaz | Betrag 12,00", "Xaver Yilmaz", "name-label", 0.9);
	expect("Empfanger: Zeta GmbH", "Zeta GmbH", "name-label", 0.9); /* umlaut lost */
	expect("Account holder: J. Doe", "J. Doe", "name-label", 0.9);
	expect("From: someone", "someone", "name-label", 0.9);
	expect_none("To do: nothing"); /* "To:" needs its colon */
	expect("Kundennummer: 123 456 789", "123 456 789", "account-label", 0.9);
	expect("Kunden-Nr. 4711-0815 bitte angeben", "4711-0815", "account-label", 0.9);
	expect("Kundennr 4711", "4711", "account-label", 0.9);
	expect("Konto 1234567 BLZ 37040044", "1234567", "account-label", 0.9);
	expect("Konto 1234567 BLZ 37040044", "37040044", "account-label", 0.9);
	expect_none("Ihr Konto wurde gesperrt");
	expect("Konto-Nr.: 1234567890", "1234567890", "account-label", 0.9);
	expect("Customer ID A-77812", "A-77812", "account-label", 0.9);
	expect("Policy number: PX-2020-001", "PX-2020-001", "account-label", 0.9);
	expect("BLZ 370 400 44", "370 400 44", "account-label", 0.9);
	expect("Versichertennummer A123456780", "A123456780", "account-label", 0.9);
	/* the value stops at the next label on the line */
	const char *line = "Kunde: Hans Meier, Kundennummer 12345";
	expect(line, "Hans Meier", "name-label", 0.9);
	expect(line, "12345", "account-label", 0.9);
	/* dates of birth */
	expect("Geburtsdatum: 01.01.1980", "01.01.1980", "birth-label", 0.9);
	expect("geb. 3. März 1975 in Köln", "3. März 1975", "birth-label", 0.9);
	expect("Date of birth: July 4, 1976", "July 4, 1976", "birth-label", 0.9);
	expect("DOB 1976-07-04", "1976-07-04", "birth-label", 0.9);
	/* a label word as a noun in a sentence is no field */
	expect_none("Der Kunde hat heute angerufen");
	expect_none("The customer service is open");
	expect("Kunde Hans Meier", "Hans Meier", "name-label", 0.9);
	expect("Customer Zeta Corp", "Zeta Corp", "name-label", 0.9);
	/* no value: nothing to mask */
	expect_none("Kundennummer:");
	expect_none("Kundennummer: bitte angeben");
	/* labels are whole words */
	expect_no_rule("Kundenservice 0800", "name-label");
}

static void test_bic(void)
{
	expect("COBADEFFXXX", "COBADEFFXXX", "bic", 0.8);
	expect("GENODEF1S04", "GENODEF1S04", "bic", 0.8);
	expect("Bank: C0BADEFFXXX", "C0BADEFFXXX", "bic", 0.8); /* 0 for O */
	expect("Commerzbank DEUTDEDB", "DEUTDEDB", "bic", 0.4);
	expect_none("DEUTDEDB"); /* letters only need a bank word on the line */
	expect_none("SETTINGS TERMINAL FEEDBACK APPLICATION");
	expect_none("ABCDEFGH"); /* EF is no country */
	expect_none("Software");
}

static void test_regex_rules(void)
{
	expect("SW1A 1AA", "SW1A 1AA", "uk-postcode", 0.7);
	expect("SSN 078-05-1120", "078-05-1120", "account-label", 0.9); /* merged with us-ssn */
	expect("number 078-05-1120", "078-05-1120", "us-ssn", 0.8);
}

/* ------------------------------------------------ several rules, merging */

static void test_multi(void)
{
	const char *line = "Anna Schmidt, anna.schmidt@example.com, +49 151 12345678, DE89 3704 0044 0532 0130 00";
	expect(line, "Anna Schmidt", "name", 0.85);
	expect(line, "anna.schmidt@example.com", "email", 0.95);
	expect(line, "+49 151 12345678", "phone", 0.9);
	expect(line, "DE89 3704 0044 0532 0130 00", "iban", 0.99);
	struct ls_pii_match m[MAXM];
	g_assert_cmpint(scan(line, m), ==, 4);
	/* "Name: Erika Mustermann": the label and the name list find the same
	 * range: merged into one, the more confident rule's id */
	g_assert_cmpint(scan("Name: Erika Mustermann", m), ==, 1);
	g_assert_cmpstr(m[0].rule_id, ==, "name-label");
	/* the table row of a customer list: everything but the amount masked */
	const char *row = "4711 | Erika Mustermann | Hauptstr. 5, 10115 Berlin | 12,50 EUR";
	expect_covered(row, "Erika Mustermann");
	expect_covered(row, "Hauptstr. 5");
	expect_covered(row, "10115 Berlin");
	int n = scan(row, m);
	for (int i = 0; i < n; i++)
		g_assert_null(g_strstr_len(row + m[i].start, m[i].end - m[i].start, "12,50"));
	/* plain text passes */
	expect_none("Die Besprechung beginnt um 10:30 Uhr im Raum 4.12, Version 2.1.0 ist installiert.");
	expect_none("The meeting starts at 10:30 in room 4.12; total 1,234.56 USD.");
	expect_none("");
}

static void test_limits(void)
{
	struct ls_pii_match m[MAXM];
	g_assert_cmpint(ls_pii_scan(NULL, "x", m, 4), ==, -EINVAL);
	g_assert_cmpint(ls_pii_scan(rules, NULL, m, 4), ==, -EINVAL);
	g_assert_cmpint(ls_pii_scan(rules, "x", m, 0), ==, -EINVAL);
	/* more ranges than room: the last one written covers the rest */
	const char *line = "a@b.de x c@d.de x e@f.de x g@h.de";
	g_assert_cmpint(ls_pii_scan(rules, line, m, 2), ==, 2);
	g_assert_cmpint(m[0].start, ==, 0);
	g_assert_cmpint(m[0].end, ==, 6);
	g_assert_cmpint(m[1].start, ==, 9);
	g_assert_cmpint(m[1].end, ==, (int)strlen(line));
	/* too long: the whole line */
	char *lng = g_strnfill(LS_PII_MAX_LINE + 1, 'x');
	g_assert_cmpint(ls_pii_scan(rules, lng, m, 4), ==, 1);
	g_assert_cmpint(m[0].start, ==, 0);
	g_assert_cmpint(m[0].end, ==, LS_PII_MAX_LINE + 1);
	g_assert_cmpstr(m[0].rule_id, ==, "overflow");
	g_free(lng);
	/* a full-length line of many small matches: more than the internal
	 * candidate table; the tail stays covered */
	GString *s = g_string_new(NULL);
	while (s->len + 8 < LS_PII_MAX_LINE)
		g_string_append(s, "a@b.de ");
	int n = ls_pii_scan(rules, s->str, m, MAXM);
	g_assert_cmpint(n, ==, MAXM);
	g_assert_cmpint(m[n - 1].end, ==, (int)s->len - 1);
	g_string_free(s, TRUE);
	/* garbage bytes and lone UTF-8 continuation bytes do not crash */
	expect_none("\xff\xfe\x80\x80 \xc3");
}

/* Screen lines as Tesseract returns them (some damaged), personal data
 * between [[ and ]]: every marked byte must be masked (no leak); masked
 * unmarked bytes are over-masking, reported and bounded. */
static const char *const corpus[] = {
	"Von: [[Erika Mustermann <erika.mustermann@web.de>]]",
	"An: [[support@example-shop.de]]",
	"Betreff: Ihre Rechnung Nr. 2026-00417 vom 21.11.2026",
	"Sehr geehrter Herr [[Schulze-Wiegand]],",
	"anbei die Rechnung über 1.249,00 EUR. Bitte überweisen Sie den Betrag",
	"auf das Konto [[DE89 3704 0044 0532 0130 00]] (BIC [[COBADEFFXXX]]).",
	"Mit freundlichen Grüßen",
	"[[Jürgen Weber]]",
	"Kundennummer | Name | Straße | PLZ | Ort",
	"100234 | [[Meier, Hans]] | [[Lindenstraße 12]] | 50667 | Köln",
	"Kundennummer: [[4711 0815]]   Vertragsnummer: [[V-2020-88812]]",
	"Kontoinhaber: [[Max Mustermann]]",
	"IBAN: [[DE89 37O4 OO44 O532 Ol3O OO]]",
	"lBAN [[DE893704 0044 05320130 00]]",
	"Kreditkarte: [[4111 1111 1111 1111]] gültig bis 12/28",
	"Karte [[5555 5555 5555 444]] abgelehnt",
	"Steuer-ID: [[86 095 742 719]]",
	"Ihre steuerliche Identifikationsnummer [[12345678995]]",
	"Ausweisnummer [[T22000129]], ausgestellt in Köln",
	"[[IDD<<T220001293<<<<<<<<<<<<<<<]]",
	"Geburtsdatum: [[12.08.1964]]  Geburtsort: Köln",
	"geb. [[3. März 1975]]",
	"Telefon: [[+49 (0) 89 / 123 456-78]]",
	"Tel [[030 1234567]], Fax [[030 1234568]]",
	"Mobil: [[0151-12345678]]",
	"Adresse: [[Hauptstr. 5a, 10115 Berlin]]",
	"[[Frankfurter Allee 34]], [[10247 Berlin]]",
	"Lieferung an [[Anna Schmidt]], [[Berliner Straße 7]], [[80331 München]]",
	"Customer: [[John Smith]]  Account No. [[00012345678]]",
	"Ship to [[221B Baker Street]], London [[NW1 6XE]]",
	"Phone: [[+44 20 7946 0958]]",
	"Date of birth: [[July 4, 1976]]",
	"From: [[jane.doe@example.org]]",
	"Dear Mr. [[Johnson]],",
	"Patient: [[Mueller, Klaus]]  geb. [[12.03.1956]]",
	"Versichertennummer: [[A123456780]]",
	"Empfänger [[Zahnarztpraxis Dr. Kowalczyk]]",
	"Windows 11 Pro Version 23H2 (Build 22631.2861)",
	"CPU: Intel Core i7-1185G7 @ 3.00GHz, RAM 16 GB",
	"Speicherplatz: 237 GB frei von 476 GB",
	"Datei Bearbeiten Ansicht Verlauf Lesezeichen Extras Hilfe",
	"Die Besprechung beginnt um 10:30 Uhr im Raum 4.12.",
	"The meeting starts at 10:30 in room 4.12; total 1,234.56 USD.",
	"Seite 3 von 12 | 250 Einträge | Sortieren nach Datum",
	"Order #123456789 shipped on 2026-11-21 via DHL",
	"Der Kunde hat am 21.11.2026 um 14:05 angerufen.",
	/* known over-masking: words that look like data */
	"Max. Auflösung 1920x1080 bei 60 Hz",
	"Konferenz Heidelberg 2024 im Kongresshaus",
	"Bis zum Bahnhof 3 Minuten zu Fuß",
	"Update KB5031455 wurde installiert",
	"ISBN 978-3-16-148410-0, 12345 Exemplare",
	"Wall Street Journal, Seite 4",
	"Sicherung 2026 11 21 0930 abgeschlossen",
};

static void test_corpus(void)
{
	int marked = 0, leaked = 0, over = 0, clean = 0;
	for (size_t i = 0; i < G_N_ELEMENTS(corpus); i++) {
		char line[256];
		bool pii[256] = { false }, in = false;
		int n = 0;
		for (const char *p = corpus[i]; *p;) {
			if (p[0] == '[' && p[1] == '[') {
				in = true;
				p += 2;
			} else if (p[0] == ']' && p[1] == ']') {
				in = false;
				p += 2;
			} else {
				pii[n] = in;
				line[n++] = *p++;
			}
		}
		line[n] = 0;
		bool masked[256] = { false };
		struct ls_pii_match m[MAXM];
		int k = scan(line, m);
		for (int j = 0; j < k; j++)
			for (int b = m[j].start; b < m[j].end; b++)
				masked[b] = true;
		for (int b = 0; b < n; b++) {
			if (pii[b]) {
				marked++;
				if (!masked[b]) {
					leaked++;
					g_printerr("LEAK: \"%s\" byte %d '%c'\n", line, b, line[b]);
				}
			} else if (line[b] != ' ') {
				clean++;
				over += masked[b];
				if (masked[b] && g_test_verbose())
					g_printerr("over-masked: \"%s\" byte %d '%c'\n", line, b, line[b]);
			}
		}
	}
	g_test_message(
		"corpus: %zu lines, %d personal bytes, %d leaked; %d of %d other non-space bytes masked (%.1f%%)",
		G_N_ELEMENTS(corpus), marked, leaked, over, clean, 100.0 * over / clean);
	g_assert_cmpint(leaked, ==, 0);
	g_assert_cmpint(over * 100, <=, clean * 15); /* over-masking stays under 15 % of the other text */
}

/* Random lines from the alphabet that matters (digits, OCR look-alikes,
 * separators, @, <, umlauts, stray UTF-8 bytes), fixed seed: scan() checks
 * that every range is inside the line, sorted and disjoint; under valgrind
 * and ASan this is the out-of-bounds check of every detector. */
static void test_random_lines(void)
{
	/* clang-format off */
	static const char *const pieces[] = {
		"0", "1", "4", "5", "9", "O", "l", "I", "|", "S", "B", "Z", "G", "DE", "89", " ", " ", "  ", "-", "/", ".", ",",
		":", "(", ")", "+", "@", "©", "<<", "ä", "ß", "Ü", "\xc3", "\xff", "Anna", "Schmidt", "Herr", "str.", "straße",
		"Name:", "Kundennummer", "geb.", "IBAN", "4111", "0151", "10115", "Berlin", "T22", "XXX", "a", "x", "com",
	};
	/* clang-format on */
	GRand *rnd = g_rand_new_with_seed(4242);
	char line[600];
	struct ls_pii_match m[MAXM];
	for (int i = 0; i < 3000; i++) {
		int n = 0, want = g_rand_int_range(rnd, 0, 120);
		line[0] = 0;
		for (int k = 0; k < want; k++) {
			const char *pc = pieces[g_rand_int_range(rnd, 0, G_N_ELEMENTS(pieces))];
			size_t l = strlen(pc);
			if (n + l + 1 >= sizeof line)
				break;
			memcpy(line + n, pc, l + 1);
			n += (int)l;
		}
		scan(line, m);
	}
	g_rand_free(rnd);
}

struct thr {
	const char *line;
	int n;
	struct ls_pii_match first;
	bool same;
};

static void *thr_main(void *arg)
{
	struct thr *t = arg;
	struct ls_pii_match m[MAXM];
	t->same = true;
	for (int i = 0; i < 2000; i++) {
		int n = ls_pii_scan(rules, t->line, m, MAXM);
		if (n != t->n || m[0].start != t->first.start || m[0].end != t->first.end)
			t->same = false;
	}
	return NULL;
}

static void test_threads(void)
{
	static const char *lines[] = {
		"Anna Schmidt, anna.schmidt@example.com, +49 151 12345678, DE89 3704 0044 0532 0130 00",
		"Kunde: Hans Meier, Kundennummer 12345, SW1A 1AA",
		"4111 1111 1111 1111 und 12 345 678 995",
		"Hauptstr. 5, 10115 Berlin",
	};
	struct thr t[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		struct ls_pii_match m[MAXM];
		t[i].line = lines[i];
		t[i].n = ls_pii_scan(rules, lines[i], m, MAXM);
		g_assert_cmpint(t[i].n, >, 0);
		t[i].first = m[0];
		pthread_create(&th[i], NULL, thr_main, &t[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		g_assert_true(t[i].same);
	}
}

/* ---------------------------------------------------------------- loader */

static void load_fails(const char *text, const char *msg)
{
	struct ls_pii_rules *r = (void *)1;
	char *err = NULL;
	int rc = ls_pii_rules_load_data(text, "t.rules", &r, &err);
	g_assert_cmpint(rc, <, 0);
	g_assert_null(r);
	g_assert_nonnull(err);
	if (!strstr(err, msg))
		g_error("error \"%s\" lacks \"%s\"", err, msg);
	g_assert_null(strchr(err, '\n'));
	free(err);
}

static void test_loader(void)
{
	load_fails("rule a iban 0.9\nfoo bar\n", "t.rules:2: unknown directive 'foo'");
	load_fails("rule a ibn 0.9\n", "t.rules:1: rule 'a': unknown type 'ibn' (known: iban");
	load_fails("\n\nrule a iban 1.5\n", "t.rules:3: rule 'a': confidence must be a number in (0, 1]");
	load_fails("rule a iban 0\n", "t.rules:1: rule 'a': confidence");
	load_fails("rule a iban 0.9\nrule a card 0.9\n", "t.rules:2: rule 'a' already defined on line 1");
	load_fails("rule A iban 0.9\n", "t.rules:1: rule: expected an id");
	load_fails("rule a iban 0.5 shape=0.9\n", "t.rules:1: rule 'a': shape= must be");
	load_fails("rule a iban 0.5 extra\n", "t.rules:1: rule 'a': unexpected 'extra'");
	load_fails("rule a regex 0.5 a(b\n", "t.rules:1: rule 'a': bad regex:");
	load_fails("rule a regex 0.5\n", "t.rules:1: rule 'a': missing regex");
	load_fails("rule a label 0.5 name \"Name\n", "t.rules:1: rule 'a': unterminated quote");
	load_fails("rule a label 0.5 colour \"Name\"\n", "t.rules:1: rule 'a': unknown value kind 'colour'");
	load_fails("rule a label 0.5 name\n", "t.rules:1: rule 'a': label needs at least one");
	load_fails("rule a label 0.5 name Name\n", "t.rules:1: rule 'a': labels are \"quoted\"");
	load_fails("rule a label 0.5 name \"N@me\"\n", "t.rules:1: label \"N@me\": only letters");
	load_fails("rule a name-list 0.5\n", "t.rules:1: rule 'a': name-list needs names");
	load_fails("names first /nonexistent/names.txt\n", "t.rules:1: names file '/nonexistent/names.txt':");
	load_fails("name middle Anna\n", "t.rules:1: name: expected 'first' or 'last'");
	load_fails("name first Anna2\n", "t.rules:1: name 'Anna2': one word of letters");
	load_fails("# only a comment\n\n", "t.rules:2: no rules");
	load_fails("", "t.rules:1: no rules");

	/* a names file error names the names file and its line */
	char *dir = g_dir_make_tmp("lockstep-pii-XXXXXX", NULL);
	g_assert_nonnull(dir);
	char *names = g_build_filename(dir, "n.txt", NULL), *rf = g_build_filename(dir, "r.rules", NULL);
	g_assert_true(g_file_set_contents(names, "# c\nAnna\nMax 2\n", -1, NULL));
	g_assert_true(g_file_set_contents(rf, "names first n.txt\nrule n name-list 0.8\n", -1, NULL));
	struct ls_pii_rules *r = NULL;
	char *err = NULL;
	g_assert_cmpint(ls_pii_rules_load(rf, &r, &err), ==, -EINVAL);
	char *want = g_strdup_printf("%s:3: name 'Max 2'", names);
	g_assert_nonnull(err);
	g_assert_nonnull(strstr(err, want));
	free(err);
	g_free(want);
	/* fixed: loads, relative names path resolved against the rules file */
	g_assert_true(g_file_set_contents(names, "# c\nAnna\nZbigniew\n", -1, NULL));
	g_assert_cmpint(ls_pii_rules_load(rf, &r, &err), ==, 0);
	g_assert_null(err);
	g_assert_cmpint(ls_pii_rules_count(r), ==, 1);
	struct ls_pii_match m[4];
	g_assert_cmpint(ls_pii_scan(r, "Zbigniew Qwert", m, 4), ==, 1);
	g_assert_cmpint(m[0].end, ==, 14);
	ls_pii_rules_free(&r);
	g_assert_null(r);
	ls_pii_rules_free(&r); /* NULL is fine */
	g_unlink(names);
	g_unlink(rf);
	g_rmdir(dir);
	g_free(names);
	g_free(rf);
	g_free(dir);

	/* a missing rules file */
	g_assert_cmpint(ls_pii_rules_load("/nonexistent/pii.rules", &r, &err), ==, -ENOENT);
	g_assert_cmpstr(err, ==, "/nonexistent/pii.rules: cannot open rules file: No such file or directory");
	free(err);

	/* user rules: inline names, a regex, an iregex, a label, trailing comments */
	const char *text = "name first Zbigniew\n"
			   "rule n name-list 0.8 shape=0.3   # names\n"
			   "rule ticket regex 0.7 TCK-[0-9]{4}\n"
			   "rule code iregex 0.6 secret-[a-z]+\n"
			   "rule pin label 0.9 number \"PIN:\"   # a label\n";
	g_assert_cmpint(ls_pii_rules_load_data(text, "user.rules", &r, &err), ==, 0);
	g_assert_cmpint(ls_pii_rules_count(r), ==, 4);
	int n = ls_pii_scan(r, "Zbigniew, TCK-1234 and SECRET-abc, PIN: 0000", m, 4);
	g_assert_cmpint(n, ==, 4);
	g_assert_cmpstr(m[0].rule_id, ==, "n");
	g_assert_cmpfloat_with_epsilon(m[0].confidence, 0.3, 0.001);
	g_assert_cmpstr(m[1].rule_id, ==, "ticket");
	g_assert_cmpint(m[1].start, ==, 10);
	g_assert_cmpint(m[1].end, ==, 18);
	g_assert_cmpstr(m[2].rule_id, ==, "code");
	g_assert_cmpstr(m[3].rule_id, ==, "pin");
	g_assert_cmpint(m[3].start, ==, 40);
	g_assert_cmpint(m[3].end, ==, 44);
	/* "PIN:" needs the colon */
	g_assert_cmpint(ls_pii_scan(r, "PIN 0000", m, 4), ==, 0);
	ls_pii_rules_free(&r);
}

static void test_self_test(void)
{
	char *err = NULL;
	g_assert_cmpint(ls_pii_self_test(rules, "rules/pii.rules", &err), ==, 0);
	g_assert_null(err);
	/* a rules file that lost its builtins fails, naming the first canary */
	struct ls_pii_rules *r = NULL;
	g_assert_cmpint(ls_pii_rules_load_data("rule x regex 0.5 TCK-[0-9]+\n", "mini.rules", &r, &err), ==, 0);
	g_assert_cmpint(ls_pii_self_test(r, "mini.rules", &err), ==, -EINVAL);
	g_assert_cmpstr(err, ==, "mini.rules: rules do not mask the iban canary \"DE89 3704 0044 0532 0130 00\"");
	free(err);
	ls_pii_rules_free(&r);
	/* all but e-mail */
	g_assert_cmpint(ls_pii_rules_load_data("rule i iban 0.9\nrule c card 0.9\nrule s steuer-id 0.9\n"
					       "rule p phone 0.9\nrule n label 0.9 name \"Name:\"\n",
					       "m2.rules", &r, &err),
			==, 0);
	g_assert_cmpint(ls_pii_self_test(r, "m2.rules", &err), ==, -EINVAL);
	g_assert_cmpstr(err, ==, "m2.rules: rules do not mask the email canary \"canary@example.com\"");
	free(err);
	ls_pii_rules_free(&r);
	g_assert_cmpint(ls_pii_self_test(NULL, "x", &err), ==, -EINVAL);
}

/* OCR damage seen on rendered screens (tests/corpus through Tesseract):
 * "ii" read for "ü", quotes glued to words, e-mails split by a space, a
 * field label over a value no shape rule knows. */
static void test_ocr_screen(void)
{
	expect("Jiirgen Johnson", "Jiirgen Johnson", "name", 0.85);
	expect("Jonas Jiirgensen", "Jonas Jiirgensen", "name", 0.85);
	expect("Xaver Johnson", "Xaver Johnson", "name", 0.5);
	expect("CUST-2023-346474\tcharlotte Meyer\tc.meyer@example.de", "charlotte Meyer", "name", 0.5);
	expect("K2016 \xc3\xb6"
	       "zlem Schulz",
	       "\xc3\xb6"
	       "zlem Schulz",
	       "name", 0.5);
	expect_none("die anna bekommt"); /* a listed name in lower case, no capitalized word after it */
	expect("\xe2\x80\x98"
	       "Emma Schafer",
	       "Emma Schafer", "name", 0.85);
	expect("weiss 5_j15@example.net", "weiss 5_j15@example.net", "email", 0.95);
	expect_covered("by e-mail at brown, u58@example.org.", "brown, u58@example.org");
	expect("write to brown, u58@example.org.", "brown, u58@example.org", "email", 0.95);
	expect("paul. zimmermann@examp le. net", "paul. zimmermann@examp le. net", "email", 0.95);
	expect("E-Mail\tj.braundexample.org", "j.braundexample.org", "field-label", 0.9);
	expect("E-Mail:\thofmann a3", "hofmann a3", "field-label", 0.9);
	expect("ID card no.:\tLWWYH7T668", "LWWYH7T668", "ausweis", 0.9);
	expect("Cust. no.\tK2019709722", "K2019709722", "account-label", 0.9);
	expect("customer number is CUST-2021-571544; please", "CUST-2021-571544", "account-label", 0.9);
	expect("Your customer number is CUST-2021-571544; please", "CUST-2021-571544", "account-label", 0.9);
	expect("Ihre Kundennummer lautet KD-2017-528427; bitte", "KD-2017-528427", "account-label", 0.9);
	expect("Ihre Kundennummer: 4711 0815", "4711 0815", "account-label", 0.9);
	expect("Kundennummer! | UST-2022114568", "UST-2022114568", "account-label", 0.9);
	expect("Steuer-ID:\t\"59 780.146 359", "59 780.146 359", "account-label", 0.9);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	char *path = g_test_build_filename(G_TEST_DIST, "..", "rules", "pii.rules", NULL);
	char *err = NULL;
	if (ls_pii_rules_load(path, &rules, &err) < 0)
		g_error("%s", err);
	g_free(path);
	g_test_add_func("/pii/iban", test_iban);
	g_test_add_func("/pii/card", test_card);
	g_test_add_func("/pii/steuer-id", test_steuer_id);
	g_test_add_func("/pii/ausweis", test_ausweis);
	g_test_add_func("/pii/email", test_email);
	g_test_add_func("/pii/phone", test_phone);
	g_test_add_func("/pii/street", test_street);
	g_test_add_func("/pii/plz-city", test_plz_city);
	g_test_add_func("/pii/names", test_names);
	g_test_add_func("/pii/labels", test_labels);
	g_test_add_func("/pii/bic", test_bic);
	g_test_add_func("/pii/regex", test_regex_rules);
	g_test_add_func("/pii/multi", test_multi);
	g_test_add_func("/pii/limits", test_limits);
	g_test_add_func("/pii/threads", test_threads);
	g_test_add_func("/pii/random-lines", test_random_lines);
	g_test_add_func("/pii/corpus", test_corpus);
	g_test_add_func("/pii/self-test", test_self_test);
	g_test_add_func("/pii/loader", test_loader);
	g_test_add_func("/pii/ocr-screen", test_ocr_screen);
	int rc = g_test_run();
	ls_pii_rules_free(&rules);
	return rc;
}
