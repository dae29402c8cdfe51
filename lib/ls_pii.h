/* ls_pii — personal-data rules for OCR'd screen text (German and English).
 *
 * A rules file (format: rules/pii.rules, header comments; README.md
 * "Personal-data rules") lists rules: builtin detectors with validators in C
 * (IBAN mod-97, card Luhn + issuer ranges, Steuer-ID ISO 7064 MOD 11,10 +
 * digit rule, Personalausweis 7-3-1, e-mail, phone, street, PLZ + city,
 * person names from name lists, BIC, MRZ lines), field labels whose value is
 * masked ("Kundennummer", "Name:"), and user POSIX extended regexes.
 *
 * ls_pii_scan() judges one OCR'd text line and returns the byte ranges to
 * mask. The input is Tesseract output, so the detectors tolerate OCR damage:
 * O/0, I/l/1/|, S/5, B/8, Z/2, G/6 confusions inside numbers, stray or missing
 * spaces, lost umlauts, a dot read as a comma. They err on the safe side: a
 * masked false positive costs a black box, a miss leaks data. Every match
 * carries a confidence (0..1): checksum-valid matches score the rule's
 * confidence, shape-only matches its lower `shape=` confidence.
 *
 * Threads: the rules are immutable after loading; ls_pii_scan() may run
 * concurrently on the same rules from any number of threads. It does not
 * allocate (regexec may, inside glibc, for user regex rules only) and uses
 * about 55 KiB of stack (tables sized for the longest line). */
#ifndef LS_PII_H
#define LS_PII_H

/** Lines longer than this (bytes) are not scanned: ls_pii_scan() returns one
 *  match covering the whole line (fail closed). */
#define LS_PII_MAX_LINE 2048

/** Opaque, immutable rule set. */
struct ls_pii_rules;

/** Loads rules from @path. Relative `names FILE` paths are resolved against
 *  the directory of @path. Returns 0 and sets *out (free with
 *  ls_pii_rules_free), or a negative errno (-ENOENT, -EINVAL, -ENOMEM) and
 *  sets *err (if @err is not NULL) to a malloc'd one-line "FILE:LINE: reason"
 *  that the caller frees. */
int ls_pii_rules_load(const char *path, struct ls_pii_rules **out, char **err);
/** As ls_pii_rules_load() for rules text in memory; @name is used in error
 *  messages and, where it contains a '/', its directory resolves relative
 *  `names FILE` paths (otherwise they are relative to the working directory). */
int ls_pii_rules_load_data(const char *text, const char *name, struct ls_pii_rules **out, char **err);
/** Frees the rules and sets *r to NULL. Accepts NULL and *r == NULL. Match
 *  rule_id pointers die with the rules. */
void ls_pii_rules_free(struct ls_pii_rules **r);
/** Number of rules loaded (for messages and tests). */
int ls_pii_rules_count(const struct ls_pii_rules *r);

/** Fail-closed check of a rule set: scans fixed synthetic canaries (an IBAN,
 *  a card number, a Steuer-ID, an e-mail address, a phone number, a name
 *  after "Name:") and requires each to be masked completely. Returns 0, or
 *  -EINVAL and sets *err (if not NULL; malloc'd, one line) to
 *  "NAME: rules do not mask the KIND canary \"TEXT\"". Call it after loading
 *  (a rules file that lost a builtin rule should stop the program) and from
 *  the canary self-test mode. Thread-safe like ls_pii_scan(). */
int ls_pii_self_test(const struct ls_pii_rules *r, const char *name, char **err);

struct ls_pii_match {
	int start, end;      /**< byte range [start, end) in the line (UTF-8) to mask */
	const char *rule_id; /**< e.g. "iban"; owned by the rules ("overflow" for the fail-closed cases) */
	float confidence;    /**< 0..1 */
};

/** Scans one NUL-terminated OCR'd text line.
 *
 * Writes at most @max matches to @out, sorted by start, and returns their
 * number (0 when nothing is found; -EINVAL for NULL arguments or max < 1).
 * Overlapping ranges are merged into one that keeps the rule_id and
 * confidence of its most confident part; touching ranges stay separate.
 * Fail closed: if there are more ranges than @max, the last one written is
 * extended to the end of the last range found; a line longer than
 * LS_PII_MAX_LINE returns one range covering the whole line (rule_id
 * "overflow", confidence 1). Thread-safe, no allocation (see above). */
int ls_pii_scan(const struct ls_pii_rules *r, const char *line, struct ls_pii_match *out, int max);

#endif
