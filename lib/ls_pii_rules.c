/* ls_pii_rules — loading a rules file (format: rules/pii.rules) into the
 * immutable struct ls_pii_rules of ls_pii_private.h: the parser, the name
 * sets, the label index; and freeing it. */
#include "ls_pii_private.h"

#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- rules */

/* clang-format off */
static const char *const type_names[T_NTYPES] = {
	"iban", "card", "steuer-id", "ausweis", "mrz", "email", "phone", "street", "plz-city",
	"name-list", "bic", "label", "regex", "iregex",
};
/* clang-format on */

static const char *const vkind_names[V_NKINDS] = { "name", "number", "text", "date" };

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

bool pii_nameset_has(const struct nameset *ns, const char *key)
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
	if (pii_nameset_has(ns, key))
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

int ls_pii_rules_count(const struct ls_pii_rules *r) { return r ? r->n : 0; }

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
	int n = pii_fold_word(word, 0, (int)strlen(word), w, sizeof w);
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
		int adv, k = pii_fold_at(text, n, p, f, &adv);
		for (int i = 0; i < k; i++) {
			if (lb->nfold >= LABEL_MAX - 1)
				return fail(ps, -EINVAL, ps->name, ps->line, "label \"%s\" is too long", text);
			lb->fold[lb->nfold++] = f[i];
		}
		if (k == 0 && !(text[p] == ' ' || text[p] == '-' || text[p] == '.' || text[p] == '_'))
			return fail(ps, -EINVAL, ps->name, ps->line,
				    "label \"%s\": only letters, digits, spaces, '-', '.', '_' and a final ':' or '.'",
				    text);
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
			    "plz-city name-list bic label regex iregex)",
			    id, type);
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
			return fail(ps, -EINVAL, ps->name, ps->line,
				    "rule '%s': label needs a value kind (name number text date)", id);
		int k = 0;
		while (k < V_NKINDS && strcmp(w, vkind_names[k]) != 0)
			k++;
		if (k == V_NKINDS)
			return fail(ps, -EINVAL, ps->name, ps->line,
				    "rule '%s': unknown value kind '%s' (known: name number text date)", id, w);
		r->vk = (enum vkind)k;
		int n;
		while ((n = next_word(&p, w, sizeof w, &q)) != 0) {
			if (n > 0 && !q && w[0] == '#')
				break;
			if (n < 0)
				return fail(ps, -EINVAL, ps->name, ps->line, "rule '%s': %s", id,
					    n == -1 ? "unterminated quote" : "label too long");
			if (!q)
				return fail(ps, -EINVAL, ps->name, ps->line,
					    "rule '%s': labels are \"quoted\" (got '%s')", id, w);
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
			return fail(ps, -EINVAL, ps->name, ps->line, "rule '%s': label needs at least one \"TEXT\"",
				    id);
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
		return fail(ps, -EINVAL, ps->name, ps->line,
			    "rule '%s': unexpected '%s' (a %s rule takes only shape=LOW)", id, n > 0 ? w : "\"", type);
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
		rc = fail(&ps, -EINVAL, name, ps.line > 0 ? ps.line : 1,
			  "no rules (an empty rule set would mask nothing)");
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
