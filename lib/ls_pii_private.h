/* ls_pii_private — what the pieces of the personal-data rules share: the
 * loaded rules (ls_pii_rules.c builds them, the detectors read them), the
 * candidate ranges a scan collects (ls_pii.c), the numeric groups, and the
 * detectors' entry points (ls_pii_numbers.c, ls_pii_contact.c,
 * ls_pii_names.c). Private to lib/ls_pii*.c; other modules use ls_pii.h.
 * Positions are byte offsets into the NUL-terminated UTF-8 line. */
#ifndef LS_PII_PRIVATE_H
#define LS_PII_PRIVATE_H

#include <regex.h>
#include <stdbool.h>

#include "ls_pii.h"
#include "ls_pii_text.h"

/* ---------------------------------------------------------------- rules */

/* Rule types, in the order of their names in the rules file (type_names in
 * ls_pii_rules.c). */
/* clang-format off */
enum rtype {
	T_IBAN, T_CARD, T_STEUER, T_AUSWEIS, T_MRZ, T_EMAIL, T_PHONE, T_STREET, T_PLZ,
	T_NAMES, T_BIC, T_LABEL, T_REGEX, T_IREGEX, T_NTYPES
};
/* clang-format on */

/* What follows a field label (vkind_names in ls_pii_rules.c). */
enum vkind { V_NAME, V_NUMBER, V_TEXT, V_DATE, V_NKINDS };

#define LABEL_MAX 48
struct label {
	char fold[LABEL_MAX]; /* folded letters and digits only */
	int nfold;
	char punct; /* required ':' or '.' after the label, or 0 */
};

/* One rule of the file. Everything it points to is owned by the rules and
 * freed by ls_pii_rules_free(). */
struct rule {
	char *id; /* malloc'd; [a-z0-9_-], the matches' rule_id */
	enum rtype type;
	float conf, low;      /* checksum-valid / shape-only confidence */
	enum vkind vk;        /* T_LABEL: the kind of value after the label */
	struct label *labels; /* T_LABEL: malloc'd, nlabels of them */
	int nlabels;
	regex_t re; /* T_REGEX, T_IREGEX: compiled if has_re */
	bool has_re;
	int line; /* line in the rules file, for messages */
};

/* A set of folded names (pii_fold_word) from the name lists. */
struct nameset {
	char **slot;      /* open addressing, NULL = empty; malloc'd, each name malloc'd */
	unsigned mask, n; /* mask + 1 slots (a power of two), n names */
};

/* Every label of every label rule, bucketed by its first folded char
 * (a-z, 0-9), so a word start tries only the labels that can match it. */
struct label_ref {
	const struct rule *r;
	const struct label *lb;
};
#define LABEL_BUCKETS 36

/* Built by the loader, immutable afterwards (ls_pii.h, "Threads"). */
struct ls_pii_rules {
	struct rule *rules; /* malloc'd, n used of cap, in file order */
	int n, cap;
	struct nameset first, last;     /* first names, surnames */
	struct label_ref *lrefs;        /* sorted by bucket; malloc'd */
	int lbucket[LABEL_BUCKETS + 1]; /* bucket b: lrefs[lbucket[b] .. lbucket[b + 1]) */
};

/** The label bucket of folded char @f (a-z: 0..25, 0-9: 26..35), or -1. */
static inline int label_bucket(char f) { return is_digit(f) ? 26 + (f - '0') : is_lower(f) ? f - 'a' : -1; }

/** @key (folded) is in the set. */
bool pii_nameset_has(const struct nameset *ns, const char *key);

/* ------------------------------------------------------------ candidates */

#define MAX_CANDS 128
struct cands {
	struct ls_pii_match m[MAX_CANDS];
	int n;
	int ov_start, ov_end; /* range of candidates that did not fit (fail closed) */
	float ov_conf;
	const char *ov_id;
};

/** Adds the range [s, e) found by rule @r with confidence @conf to @c;
 *  empty ranges are ignored, those beyond MAX_CANDS widen the overflow. */
void pii_add(struct cands *c, int s, int e, const struct rule *r, float conf);

/* ---------------------------------------------------- numeric groups (card, Steuer-ID) */

struct ngroup {
	int s, e;
	int nd; /* digits; 0 if the chunk is no number */
	char d[20];
	bool run_start; /* first group of a run */
	bool plus;      /* a '+' right before the run (phone number) */
};
#define MAX_GROUPS (LS_PII_MAX_LINE / 2 + 2)

/** Splits the line into numeric chunks (ASCII alnum runs that read as
 *  digits after OCR repair, at least half of them real digits) and marks
 *  runs: chunks joined by 1-2 spaces or one dash. */
int pii_numeric_groups(const char *line, int len, struct ngroup *g);

/* ------------------------------------------------------------- detectors */

/* Each adds the ranges rule @r finds in line[0, len) to @c (pii_add) with
 * confidences from r->conf (checksum-valid) and r->low (shape only). @t:
 * the nt word tokens of the line (pii_tokenize); @g: its ng numeric groups
 * (pii_numeric_groups). */

/* ls_pii_numbers.c */
void pii_scan_iban(const struct rule *r, const char *line, int len, struct cands *c);
void pii_scan_card(const struct rule *r, const char *line, const struct ngroup *g, int ng, struct cands *c);
void pii_scan_steuer(const struct rule *r, const struct ngroup *g, int ng, struct cands *c);
void pii_scan_ausweis(const struct rule *r, const char *line, const struct tok *t, int nt, struct cands *c);

/** Machine-readable zone lines (ID card TD1, passport TD3): runs of
 *  [A-Z0-9<] with "<<" in them, 20+ chars. Every field in them is personal. */
void pii_scan_mrz(const struct rule *r, const char *line, int len, struct cands *c);
void pii_scan_bic(const struct rule *r, const char *line, const struct tok *t, int nt, struct cands *c);

/* ls_pii_contact.c */
void pii_scan_email(const struct rule *r, const char *line, int len, struct cands *c);
void pii_scan_phone(const struct rule *r, const char *line, int len, struct cands *c);
void pii_scan_street(const struct rule *r, const char *line, int len, const struct tok *t, int nt, struct cands *c);
void pii_scan_plz(const struct rule *r, const char *line, int len, const struct tok *t, int nt, struct cands *c);

/* ls_pii_names.c */
void pii_scan_names(const struct rule *r, const struct ls_pii_rules *rs, const char *line, int len, const struct tok *t,
		    int nt, struct cands *c);

/** All label rules at once (the longest label wins), from rs->lrefs. */
void pii_scan_labels(const struct ls_pii_rules *rs, const char *line, int len, struct cands *c);

#endif
