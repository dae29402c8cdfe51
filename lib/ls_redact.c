/* ls_redact — the redactor: change, scroll, verdicts, masks and the
 * fail-closed policy (see ls_redact.h for the model). It finds text with
 * ls_textfind and has it read by ls_ocrpool. */
#include "ls_redact.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ls_ocrpool.h"
#include "ls_textfind.h"
#include "ls_time.h"

struct unit {
	struct ls_redact_box b; /* crop box in the frame */
	struct ls_ocrpool_entry *e;
	bool reported; /* audit written for its judgement */
};

struct item { /* one line of text (or a pending unit) */
	int x0, y0, x1, y1;
	int unit;
	int line; /* OCR line index, -1 for a pending unit */
	int row;
};

#define MAX_BOXES 8192
/* hold_ns: a frame waits for its new units' OCR only when they are this
 * few (typing, a clock; not a new screen, whose reading takes longer than
 * any hold), and leaves this much of the budget for composing it */
#define HOLD_UNITS_MAX 4
#define HOLD_MARGIN_NS (20 * 1000000LL)

/* The process thread's alone: the OCR workers see only the pool. */
struct ls_redactor {
	struct ls_redact_params p;
	int W, H, T, tx, ty, pad;
	uint8_t *prev[3]; /* previous input */
	int pstride[3];
	bool have_prev;
	uint8_t *changed;      /* tx * ty; 1 changed, 2 changed but only moved by the scroll */
	uint8_t *pending_tile; /* tx * ty */
	uint64_t frame;

	struct ls_ocrpool *pool; /* OCR workers and the cache of their results */

	struct unit *units;
	int nunits, capunits;
	bool dirty;

	struct ls_redact_box *masks; /* personal data, padded */
	int nmasks;
	struct ls_redact_box *cover; /* rows waiting for OCR */
	int ncover;
	struct ls_redact_box *found; /* scratch for the detector */

	struct ls_redact_totals tot; /* the OCR's fields from the pool, on request */
	float min_conf;              /* OCR word confidence (0..100) below which a word is masked */
	bool debug;       /* LS_REDACT_DEBUG set: trace bands and rows on stderr (with text: never in production) */
	bool debug_units; /* LS_REDACT_DEBUG=units: every unit of every frame too */
};

static void audit(struct ls_redactor *r, const char *fmt, ...)
{
	if (!r->p.audit)
		return;
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	r->p.audit(r->p.audit_user, buf);
}

static void set_err(char **err, const char *msg)
{
	if (err)
		*err = strdup(msg);
}

int ls_redactor_new(const struct ls_redact_params *p, struct ls_redactor **out, char **err)
{
	*out = NULL;
	if (!p || !p->ocr || !p->ocr->worker_new || !p->ocr->recognize || !p->ocr->worker_free || !p->scan) {
		set_err(err, "redact: no OCR backend or scanner");
		return -EINVAL;
	}
	if (p->width < 64 || p->height < 64 || p->width > 8192 || p->height > 8192 || (p->width | p->height) & 1) {
		set_err(err, "redact: frame size must be even and 64..8192");
		return -EINVAL;
	}
	int T = p->tile ? p->tile : 32;
	if (T < 8 || T > 256 || T % 8) {
		set_err(err, "redact: tile must be a multiple of 8 in 8..256");
		return -EINVAL;
	}
	int nw = p->workers ? p->workers : 2;
	if (nw < 1 || nw > 64) {
		set_err(err, "redact: workers must be 1..64");
		return -EINVAL;
	}
	struct ls_redactor *r = calloc(1, sizeof(*r));
	if (!r) {
		set_err(err, "redact: out of memory");
		return -ENOMEM;
	}
	r->p = *p;
	r->debug = getenv("LS_REDACT_DEBUG") != NULL;
	r->debug_units = r->debug && strcmp(getenv("LS_REDACT_DEBUG"), "units") == 0;
	r->min_conf = p->min_conf < 0 ? 0 : (p->min_conf ? p->min_conf : 50);
	if (!r->p.budget_ns)
		r->p.budget_ns = 150 * 1000000LL;
	if (r->p.wait)
		r->p.budget_ns = INT64_MAX / 4; /* offline: frames wait for OCR by design */
	if (!r->p.stuck_ns)
		r->p.stuck_ns = 5 * 1000000000LL;
	if (!r->p.cache_bytes)
		r->p.cache_bytes = 64u << 20;
	r->W = p->width;
	r->H = p->height;
	r->T = T;
	r->tx = (r->W + T - 1) / T;
	r->ty = (r->H + T - 1) / T;
	r->pad = p->pad < 0 ? 0 : (p->pad ? p->pad : 3);
	r->pstride[0] = r->W;
	r->pstride[1] = r->pstride[2] = r->W / 2;
	r->prev[0] = malloc((size_t)r->W * (size_t)r->H);
	r->prev[1] = malloc((size_t)r->W * (size_t)r->H / 4);
	r->prev[2] = malloc((size_t)r->W * (size_t)r->H / 4);
	r->changed = calloc((size_t)r->tx * (size_t)r->ty, 1);
	r->pending_tile = calloc((size_t)r->tx * (size_t)r->ty, 1);
	r->masks = malloc(MAX_BOXES * sizeof(*r->masks));
	r->cover = malloc(MAX_BOXES * sizeof(*r->cover));
	r->found = malloc(MAX_BOXES * sizeof(*r->found));
	if (!r->prev[0] || !r->prev[1] || !r->prev[2] || !r->changed || !r->pending_tile || !r->masks || !r->cover ||
	    !r->found) {
		ls_redactor_free(&r);
		set_err(err, "redact: out of memory");
		return -ENOMEM;
	}
	int rc = ls_ocrpool_new(r->p.ocr, nw, r->p.stuck_ns, r->p.cache_bytes, &r->pool);
	if (rc < 0) {
		ls_redactor_free(&r);
		set_err(err, rc == -ENOMEM ? "redact: out of memory" : "redact: cannot start an OCR worker thread");
		return rc;
	}
	*out = r;
	return 0;
}

/* How many of the units on screen wait for OCR. */
static int pending_units(const struct ls_redactor *r)
{
	int n = 0;
	for (int i = 0; i < r->nunits; i++)
		n += r->units[i].e->state == LS_OCRPOOL_PENDING;
	return n;
}

/* Applies finished OCR jobs; the units are then judged again. */
static void drain_done(struct ls_redactor *r)
{
	if (ls_ocrpool_drain(r->pool))
		r->dirty = true;
}

static bool overlaps_rows(const struct ls_redact_box *b, int y0, int y1) { return b->y < y1 && b->y + b->h > y0; }

static bool grow_units(struct ls_redactor *r, int more)
{
	if (r->nunits + more <= r->capunits)
		return true;
	int cap = r->capunits ? r->capunits : 256;
	while (cap < r->nunits + more)
		cap *= 2;
	struct unit *u = realloc(r->units, (size_t)cap * sizeof(*u));
	if (!u)
		return false;
	r->units = u;
	r->capunits = cap;
	return true;
}

/* The first row from @y in direction @dir (-1 up, +1 down) whose luma over
 * [x0, x1) holds no step the text detector would count (max - min <= 24),
 * at most 256 rows on; the last row tried when none is. */
static int blank_row_from(const struct ls_redact_image *in, int y, int dir, int x0, int x1, int H)
{
	int last = y;
	for (int k = 0; k < 256 && y >= 0 && y < H; k++, y += dir) {
		const uint8_t *g = in->planes[0] + (size_t)y * (size_t)in->strides[0];
		uint8_t lo = 255, hi = 0;
		for (int x = x0; x < x1; x++) {
			lo = g[x] < lo ? g[x] : lo;
			hi = g[x] > hi ? g[x] : hi;
		}
		if (hi - lo <= 24)
			return y;
		last = y;
	}
	return last;
}

/* Re-detects the text in rows [b0, b1) (widened until no unit is cut by its
 * edges) and replaces the units there. Returns the final b1. */
static int redetect_band(struct ls_redactor *r, const struct ls_redact_image *in, int b0, int b1, int64_t now_ns,
			 struct ls_redact_stats *st)
{
	int n = 0;
	/* The band grows until it cuts neither a known unit nor a text box it
	 * finds; the units inside it are then replaced by what it found. */
	for (int iter = 0; iter < 16; iter++) {
		for (bool grew = true; grew;) {
			grew = false;
			for (int i = 0; i < r->nunits; i++) {
				const struct ls_redact_box *b = &r->units[i].b;
				if (!overlaps_rows(b, b0, b1))
					continue;
				if (b->y < b0) {
					b0 = b->y;
					grew = true;
				}
				if (b->y + b->h > b1) {
					b1 = b->y + b->h;
					grew = true;
				}
			}
		}
		n = ls_redact_find_text(in->planes[0], in->strides[0], r->W, r->H, b0, b1, r->found, MAX_BOXES);
		if (n < 0)
			n = 0;
		/* a box the band cuts: the band grows to the first blank row
		 * beyond it (over the box's width), so that dense rows of text (a
		 * table) do not grow it a tile at a time over the whole screen */
		int nb0 = b0, nb1 = b1;
		for (int i = 0; i < n; i++) {
			const struct ls_redact_box *f = &r->found[i];
			if (f->y <= b0 && b0 > 0) {
				int y = blank_row_from(in, b0 - 1, -1, f->x, f->x + f->w, r->H);
				nb0 = y < nb0 ? y : nb0;
			}
			if (f->y + f->h >= b1 && b1 < r->H) {
				int y = blank_row_from(in, b1, +1, f->x, f->x + f->w, r->H) + 1;
				nb1 = y > nb1 ? y : nb1;
			}
		}
		if (r->debug)
			for (int i = 0; i < n; i++)
				if ((r->found[i].y <= b0 && b0 > 0) ||
				    (r->found[i].y + r->found[i].h >= b1 && b1 < r->H))
					fprintf(stderr, "frame %llu band %d-%d cuts %d,%d %dx%d -> %d-%d\n",
						(unsigned long long)r->frame, b0, b1, r->found[i].x, r->found[i].y,
						r->found[i].w, r->found[i].h, nb0, nb1);
		if (nb0 == b0 && nb1 == b1)
			break;
		b0 = nb0;
		b1 = nb1;
	}
	if (r->debug)
		fprintf(stderr, "frame %llu band %d-%d: %d found\n", (unsigned long long)r->frame, b0, b1, n);
	/* old units inside the band go (their entries stay cached); one the
	 * band still cuts after 16 tries stays, with its verdict */
	int k = 0;
	for (int i = 0; i < r->nunits; i++) {
		const struct ls_redact_box *ob = &r->units[i].b;
		if (ob->y >= b0 && ob->y + ob->h <= b1)
			r->units[i].e->refs--;
		else
			r->units[k++] = r->units[i];
	}
	r->nunits = k;
	if (!grow_units(r, n))
		n = 0;
	for (int i = 0; i < n; i++) {
		struct ls_redact_box b = r->found[i];
		/* pad the crop by 2 px: OCR reads glyphs better with a margin */
		int x0 = b.x > 2 ? b.x - 2 : 0, y0 = b.y > 2 ? b.y - 2 : 0;
		int x1 = b.x + b.w + 2 < r->W ? b.x + b.w + 2 : r->W, y1 = b.y + b.h + 2 < r->H ? b.y + b.h + 2 : r->H;
		b = (struct ls_redact_box){ x0, y0, x1 - x0, y1 - y0 };
		struct ls_ocrpool_entry *e = ls_ocrpool_entry_for(r->pool, in->planes[0], in->strides[0], b, now_ns,
								  r->frame, st);
		if (!e)
			continue;
		r->units[r->nunits++] = (struct unit){ b, e, e->state != LS_OCRPOOL_PENDING };
	}
	r->dirty = true;
	return b1;
}

/* The vertical shift of the changed region. Each changed tile votes with
 * one non-blank row of its own width: the dy (|dy| <= MAXDY) for which that
 * row equals row y + dy of the previous frame. Tiles vote separately so that
 * a scroll bar or a fixed header in the same rows does not spoil the vote.
 * The winner needs half of the votes cast, and at least 4. */
#define MAXDY 256
static int measure_scroll(struct ls_redactor *r, const struct ls_redact_image *in)
{
	int votes[2 * MAXDY + 1];
	memset(votes, 0, sizeof(votes));
	int T = r->T, cast = 0;
	int total = r->tx * r->ty;
	/* at most 512 tiles, spread over the frame */
	int step = 1;
	int nchanged = 0;
	for (int t = 0; t < total; t++)
		nchanged += r->changed[t] != 0;
	while (nchanged / step > 512)
		step++;
	int seen = 0;
	for (int t = 0; t < total; t++) {
		if (!r->changed[t] || seen++ % step)
			continue;
		int tx = t % r->tx, ty = t / r->tx;
		int x = tx * T, w = x + T <= r->W ? T : r->W - x;
		int y0 = ty * T, y1 = y0 + T <= r->H ? y0 + T : r->H;
		/* rows from the tile's middle outwards: the first non-blank one
		 * found exactly once in the previous frame votes. A row that is
		 * found more than once (background crossed by a grid line, a
		 * stripe) is ambiguous: the next one is tried, up to 8 */
		int found = 0, fdy = 0, tries = 0;
		for (int k = 0; k < y1 - y0 && tries < 8; k++) {
			int y = y0 + (y1 - y0) / 2 + ((k & 1) ? (k + 1) / 2 : -(k / 2));
			if (y < y0 || y >= y1)
				continue;
			const uint8_t *c = in->planes[0] + (size_t)y * (size_t)in->strides[0] + x;
			bool blank = true;
			for (int i = 1; i < w && blank; i++)
				blank = c[i] == c[0];
			if (blank)
				continue;
			tries++;
			found = 0;
			for (int dy = -MAXDY; dy <= MAXDY && found < 2; dy++) {
				int yp = y + dy;
				if (dy == 0 || yp < 0 || yp >= r->H)
					continue;
				const uint8_t *p = r->prev[0] + (size_t)yp * (size_t)r->pstride[0] + x;
				if (p[0] == c[0] && p[w - 1] == c[w - 1] && memcmp(p, c, (size_t)w) == 0) {
					found++;
					fdy = dy;
				}
			}
			if (found < 2)
				break; /* unique, or not in the previous frame at all */
		}
		if (found == 1) { /* ambiguous rows (repeated patterns) do not vote */
			votes[fdy + MAXDY]++;
			cast++;
		}
	}
	int best = 0, bestv = 0;
	for (int i = 0; i < 2 * MAXDY + 1; i++)
		if (votes[i] > bestv) {
			bestv = votes[i];
			best = i - MAXDY;
		}
	return (bestv >= 4 && bestv * 2 >= cast) ? best : 0;
}

static int cmp_item_y(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	int cx = x->y0 + x->y1, cy = y->y0 + y->y1;
	return (cx > cy) - (cx < cy);
}

static int cmp_item_row_x(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	if (x->row != y->row)
		return (x->row > y->row) - (x->row < y->row);
	if (x->x0 != y->x0)
		return (x->x0 > y->x0) - (x->x0 < y->x0);
	return (x->line > y->line) - (x->line < y->line);
}

static void add_box(struct ls_redact_box *arr, int *n, int x0, int y0, int x1, int y1, int W, int H)
{
	if (*n >= MAX_BOXES)
		return;
	if (x0 < 0)
		x0 = 0;
	if (y0 < 0)
		y0 = 0;
	if (x1 > W)
		x1 = W;
	if (y1 > H)
		y1 = H;
	if (x1 > x0 && y1 > y0)
		arr[(*n)++] = (struct ls_redact_box){ x0, y0, x1 - x0, y1 - y0 };
}

/* Scale of a word box: the backend reports boxes in the crop it was given. */
static void word_box(const struct unit *u, const struct ls_redact_word *w, int *x0, int *y0, int *x1, int *y1)
{
	*x0 = u->b.x + w->x;
	*y0 = u->b.y + w->y;
	*x1 = *x0 + w->w;
	*y1 = *y0 + w->h;
}

/* A line of text for the scanner with the box of every word in it. */
struct rowtext {
	char text[4096];
	size_t len;
	int nw;
	int start[512], end[512], x0[512], x1[512];
	int ux0[512], ux1[512]; /* the ink of the word's unit where the word is its first / last, else the word's */
};

/* Appends the words of @it (one OCR line of one unit) to @t, after @sep
 * (0: none); with @only, just the words that overlap its x-extent (a
 * header row read as one unit, for one column). */
static void row_append(const struct ls_redactor *r, struct rowtext *t, const struct item *it, char sep,
		       const struct item *only)
{
	const struct unit *u = &r->units[it->unit];
	const struct ls_ocrpool_entry *e = u->e;
	bool first = true;
	int lastw = -1; /* index in t of this item's last word so far */
	for (int k = 0; k < e->ocr.nwords && t->nw < 512; k++) {
		const struct ls_redact_word *w = &e->ocr.words[k];
		if (w->line != it->line || !w->text)
			continue;
		if (only && (u->b.x + w->x + w->w <= only->x0 || u->b.x + w->x >= only->x1))
			continue;
		size_t tl = strlen(w->text);
		if (t->len + tl + 2 >= sizeof(t->text))
			break;
		if (t->len)
			t->text[t->len++] = first && sep ? sep : ' ';
		t->start[t->nw] = (int)t->len;
		memcpy(t->text + t->len, w->text, tl);
		t->len += tl;
		t->end[t->nw] = (int)t->len;
		int wy0, wy1;
		word_box(u, w, &t->x0[t->nw], &wy0, &t->x1[t->nw], &wy1);
		/* the unit's ink reaches further than OCR's first and last word
		 * boxes when OCR dropped a character there ('_', a quote) */
		t->ux0[t->nw] = first ? u->b.x : t->x0[t->nw];
		t->ux1[t->nw] = t->x1[t->nw];
		lastw = t->nw;
		first = false;
		t->nw++;
	}
	if (lastw >= 0 && !only)
		t->ux1[lastw] = u->b.x + u->b.w;
	t->text[t->len] = 0;
}

/* Scans @t and masks what matched at or after byte @from, on rows y0..y1. */
static void scan_row(struct ls_redactor *r, struct rowtext *t, int from, int y0, int y1, bool newly)
{
	struct ls_redact_match m[64];
	int nm = t->nw ? r->p.scan(r->p.scan_user, t->text, m, 64) : 0;
	if (r->debug)
		fprintf(stderr, "frame %llu row y %d-%d: \"%s\" -> %d\n", (unsigned long long)r->frame, y0, y1, t->text,
			nm);
	for (int k = 0; k < nm; k++) {
		if (m[k].end <= from)
			continue;
		int x0 = r->W, x1 = 0;
		for (int i = 0; i < t->nw; i++)
			if (t->start[i] >= from && t->start[i] < m[k].end && t->end[i] > m[k].start) {
				x0 = t->ux0[i] < x0 ? t->ux0[i] : x0;
				x1 = t->ux1[i] > x1 ? t->ux1[i] : x1;
			}
		if (x1 <= x0)
			continue;
		/* padded to the line's height, and sideways by 2/3 of it: OCR
		 * drops edge characters (a trailing '_', a cursor) from boxes */
		int padx = (y1 - y0) * 2 / 3 > r->pad ? (y1 - y0) * 2 / 3 : r->pad;
		int pady = (y1 - y0) / 3 > r->pad ? (y1 - y0) / 3 : r->pad; /* descenders: '_' 'g' 'y' */
		add_box(r->masks, &r->nmasks, x0 - padx, y0 - pady, x1 + padx, y1 + pady, r->W, r->H);
		if (newly) {
			r->tot.matches++;
			audit(r,
			      "{\"event\":\"match\",\"frame\":%llu,\"tile\":[%d,%d],\"rule\":\"%s\",\"confidence\":%.2f,"
			      "\"box\":[%d,%d,%d,%d]}",
			      (unsigned long long)r->frame, x0 / r->T, y0 / r->T, m[k].rule_id ? m[k].rule_id : "?",
			      (double)m[k].confidence, x0, y0, x1 - x0, y1 - y0);
		}
	}
}

/* The text of @it alone (only the words over @only, when not NULL) into @t. */
static void item_text(const struct ls_redactor *r, struct rowtext *t, const struct item *it, const struct item *only)
{
	t->len = 0;
	t->nw = 0;
	row_append(r, t, it, 0, only);
}

/* Reads the text of @it (only the words over @only, when not NULL) into
 * @t; true when it holds a digit or an '@': a value, never a label. */
static bool reads_as_value(const struct ls_redactor *r, struct rowtext *t, const struct item *it,
			   const struct item *only)
{
	item_text(r, t, it, only);
	for (size_t k = 0; k < t->len; k++)
		if ((t->text[k] >= '0' && t->text[k] <= '9') || t->text[k] == '@')
			return true;
	return false;
}

/* True when the text of @it (read into @t) looks like an identifier that
 * only its label or column header can make personal: digits with a letter
 * ("KD-2018-515583", "CUST-2026-655017") or a run of five or more
 * digits ("10115 Berlin"). Not row numbers, amounts or dates. */
static bool reads_as_identifier(const struct ls_redactor *r, struct rowtext *t, const struct item *it)
{
	item_text(r, t, it, NULL);
	bool digit = false, letter = false;
	int run = 0, longest = 0;
	for (size_t k = 0; k < t->len; k++) {
		unsigned char c = (unsigned char)t->text[k];
		if (c >= '0' && c <= '9') {
			digit = true;
			if (++run > longest)
				longest = run;
			continue;
		}
		run = 0;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))
			letter = true;
	}
	return digit && (letter || longest >= 5);
}

/* True when the text of @it (read into @scratch) ends in a colon: a field's
 * label ("Status:", "IBAN:"), not a value. */
static bool ends_in_colon(const struct ls_redactor *r, struct rowtext *scratch, const struct item *it)
{
	item_text(r, scratch, it, NULL);
	size_t l = scratch->len;
	while (l > 0 && scratch->text[l - 1] == ' ')
		l--;
	return l > 1 && (scratch->text[l - 1] == ':' || scratch->text[l - 1] == ';');
}

static bool x_overlap(const struct item *a, const struct item *b)
{
	int ov = (a->x1 < b->x1 ? a->x1 : b->x1) - (a->x0 > b->x0 ? a->x0 : b->x0);
	int wa = a->x1 - a->x0, wb = b->x1 - b->x0;
	return ov * 2 >= (wa < wb ? wa : wb);
}

/* The column of item @i (its row starts at @row_start; items are sorted by
 * row, then x): the chain of items above it, each the one overlapping the
 * previous by half the narrower in x, with gaps under three line heights,
 * units not read yet included. Writes up to @max indices, nearest first;
 * returns how many. *@hole: the chain ended at a gap with the column going
 * on within eight line heights above it. */
static int column_chain(const struct item *items, int row_start, int i, int *out, int max, bool *hole)
{
	int n = 0, cur = i, start = row_start;
	*hole = false;
	while (n < max) {
		int found = -1;
		int h = items[cur].y1 - items[cur].y0;
		for (int j = start - 1; j >= 0; j--) {
			if (items[cur].y0 - items[j].y1 > 3 * (h > 8 ? h : 8)) {
				/* rows are sorted: the rest are further up. A column
				 * that goes on a little higher has a hole here (a row
				 * not detected yet while it scrolls in or out, one read
				 * as nothing): its header may be up there */
				for (int k = j;
				     found < 0 && k >= 0 && items[cur].y0 - items[k].y1 <= 8 * (h > 8 ? h : 8); k--)
					if (x_overlap(&items[k], &items[cur]))
						*hole = true;
				break;
			}
			if (found >= 0 && items[j].row != items[found].row)
				break;
			if (!x_overlap(&items[j], &items[cur]))
				continue; /* pending items (line < 0) belong to the column too */
			int dj = abs((items[j].x0 + items[j].x1) - (items[cur].x0 + items[cur].x1));
			if (found < 0 ||
			    dj < abs((items[found].x0 + items[found].x1) - (items[cur].x0 + items[cur].x1)))
				found = j;
		}
		if (found < 0)
			break;
		out[n++] = found;
		cur = found;
		start = found;
		while (start > 0 && items[start - 1].row == items[found].row)
			start--;
	}
	return n;
}

/* True when another unit that OCR read words in covers half of unit @i
 * (the same text detected twice: a button with and without its border). */
static bool read_elsewhere(const struct ls_redactor *r, int i)
{
	const struct ls_redact_box *a = &r->units[i].b;
	for (int k = 0; k < r->nunits; k++) {
		const struct ls_redact_box *b = &r->units[k].b;
		if (k == i || r->units[k].e->state != LS_OCRPOOL_DONE || !r->units[k].e->ocr.nwords)
			continue;
		int ox = (a->x + a->w < b->x + b->w ? a->x + a->w : b->x + b->w) - (a->x > b->x ? a->x : b->x);
		int oy = (a->y + a->h < b->y + b->h ? a->y + a->h : b->y + b->h) - (a->y > b->y ? a->y : b->y);
		if (ox > 0 && oy > 0 && 2 * (long)ox * oy >= (long)a->w * a->h)
			return true;
	}
	return false;
}

/* Rebuilds the masks from the units: rows of text lines, scanned as one. */
static void judge(struct ls_redactor *r, int64_t now_ns)
{
	r->nmasks = 0;
	r->ncover = 0;
	memset(r->pending_tile, 0, (size_t)r->tx * (size_t)r->ty);
	int nitems = 0;
	for (int i = 0; i < r->nunits; i++) {
		struct ls_ocrpool_entry *e = r->units[i].e;
		nitems += e->state == LS_OCRPOOL_DONE ? (e->ocr.nwords ? e->ocr.nwords : 0) : 1;
	}
	struct item *items = malloc((size_t)(nitems ? nitems : 1) * sizeof(*items));
	if (!items) {
		/* cannot judge: cover every unit */
		for (int i = 0; i < r->nunits; i++) {
			struct ls_redact_box b = r->units[i].b;
			add_box(r->cover, &r->ncover, b.x, b.y, b.x + b.w, b.y + b.h, r->W, r->H);
		}
		return;
	}
	int n = 0;
	for (int i = 0; i < r->nunits; i++) {
		struct unit *u = &r->units[i];
		struct ls_ocrpool_entry *e = u->e;
		if (e->state != LS_OCRPOOL_DONE) {
			/* pending or failed: the unit and the tiles it touches */
			items[n++] = (struct item){ u->b.x, u->b.y, u->b.x + u->b.w, u->b.y + u->b.h, i, -1, 0 };
			/* the tiles it touches, with a margin for faint anti-aliased
			 * ink the detector does not count as an edge */
			int m = u->b.h / 2;
			int bx0 = u->b.x - m > 0 ? u->b.x - m : 0,
			    bx1 = u->b.x + u->b.w + m < r->W ? u->b.x + u->b.w + m : r->W;
			int by0 = u->b.y - m / 2 > 0 ? u->b.y - m / 2 : 0;
			int by1 = u->b.y + u->b.h + m / 2 < r->H ? u->b.y + u->b.h + m / 2 : r->H;
			for (int ty = by0 / r->T; ty <= (by1 - 1) / r->T; ty++)
				for (int tx = bx0 / r->T; tx <= (bx1 - 1) / r->T; tx++)
					r->pending_tile[ty * r->tx + tx] = 1;
			continue;
		}
		/* fail closed: ink shaped like a line of text (twice as wide as
		 * tall) in which OCR found no word is not known to be harmless */
		if (e->ocr.nwords == 0 && u->b.w >= 2 * u->b.h && !read_elsewhere(r, i)) {
			int m = u->b.h / 4;
			add_box(r->cover, &r->ncover, u->b.x - m, u->b.y - m, u->b.x + u->b.w + m, u->b.y + u->b.h + m,
				r->W, r->H);
			continue;
		}
		/* one item per OCR line of the unit */
		for (int k = 0; k < e->ocr.nwords; k++) {
			const struct ls_redact_word *w = &e->ocr.words[k];
			int x0, y0, x1, y1;
			word_box(u, w, &x0, &y0, &x1, &y1);
			int found = -1;
			for (int m = n - 1; m >= 0 && items[m].unit == i; m--)
				if (items[m].line == w->line) {
					found = m;
					break;
				}
			if (found < 0) {
				items[n++] = (struct item){ x0, y0, x1, y1, i, w->line, 0 };
			} else {
				struct item *it = &items[found];
				it->x0 = x0 < it->x0 ? x0 : it->x0;
				it->y0 = y0 < it->y0 ? y0 : it->y0;
				it->x1 = x1 > it->x1 ? x1 : it->x1;
				it->y1 = y1 > it->y1 ? y1 : it->y1;
			}
		}
	}
	/* rows: items whose vertical extents overlap by half the smaller one */
	qsort(items, (size_t)n, sizeof(*items), cmp_item_y);
	int row = -1, ry0 = 0, ry1 = 0;
	for (int i = 0; i < n; i++) {
		int h = items[i].y1 - items[i].y0, rh = ry1 - ry0;
		int ov = (items[i].y1 < ry1 ? items[i].y1 : ry1) - (items[i].y0 > ry0 ? items[i].y0 : ry0);
		if (row < 0 || ov * 2 < (h < rh ? h : rh)) {
			row++;
			ry0 = items[i].y0;
			ry1 = items[i].y1;
		} else {
			ry0 = items[i].y0 < ry0 ? items[i].y0 : ry0;
			ry1 = items[i].y1 > ry1 ? items[i].y1 : ry1;
		}
		items[i].row = row;
	}
	qsort(items, (size_t)n, sizeof(*items), cmp_item_row_x);

	struct rowtext t, lt; /* lt: a label's own text, beside t */
	for (int a = 0; a < n;) {
		int b = a;
		bool pending = false;
		int y0 = items[a].y0, y1 = items[a].y1;
		while (b < n && items[b].row == items[a].row) {
			pending |= items[b].line < 0;
			y0 = items[b].y0 < y0 ? items[b].y0 : y0;
			y1 = items[b].y1 > y1 ? items[b].y1 : y1;
			b++;
		}
		if (pending) {
			/* the row cannot be judged without all of it: cover all of it */
			int padx = (y1 - y0) * 2 / 3 > r->pad ? (y1 - y0) * 2 / 3 : r->pad;
			int pady = (y1 - y0) / 3 > r->pad ? (y1 - y0) / 3 : r->pad;
			for (int i = a; i < b; i++)
				add_box(r->cover, &r->ncover, items[i].x0 - padx, y0 - pady, items[i].x1 + padx,
					y1 + pady, r->W, r->H);
			a = b;
			continue;
		}
		bool newly = false;
		for (int i = a; i < b; i++)
			newly |= !r->units[items[i].unit].reported;
		/* the row: its cells (units, or lines of units) left to right, a
		 * tab between cells so a value never runs into its neighbour */
		t.len = 0;
		t.nw = 0;
		for (int i = a; i < b; i++) {
			/* a gap under 1.5 line heights is a word space (a long value
			 * read as several units), a wider one separates cells */
			int h = items[i].y1 - items[i].y0;
			char sep = i == a ? 0 : (items[i].x0 - items[i - 1].x1) * 2 < h * 3 ? ' ' : '\t';
			row_append(r, &t, &items[i], sep, NULL);
		}
		scan_row(r, &t, 0, y0, y1, newly);
		/* words OCR could not read with confidence are not judged: masked
		 * (a line cut by a scroll edge, a smudged value) */
		if (r->min_conf > 0)
			for (int i = a; i < b; i++) {
				const struct unit *u = &r->units[items[i].unit];
				for (int k = 0; k < u->e->ocr.nwords; k++) {
					const struct ls_redact_word *w = &u->e->ocr.words[k];
					if (w->line != items[i].line || w->conf >= r->min_conf || !w->text ||
					    strlen(w->text) < 3)
						continue;
					int x0, wy0, x1, wy1;
					word_box(u, w, &x0, &wy0, &x1, &wy1);
					if (r->debug)
						fprintf(stderr, "frame %llu unreadable \"%s\" conf %.0f at %d,%d\n",
							(unsigned long long)r->frame, w->text, (double)w->conf, x0,
							wy0);
					int padx = (y1 - y0) * 2 / 3 > r->pad ? (y1 - y0) * 2 / 3 : r->pad;
					int pady = (y1 - y0) / 3 > r->pad ? (y1 - y0) / 3 : r->pad;
					add_box(r->masks, &r->nmasks, x0 - padx, y0 - pady, x1 + padx, y1 + pady, r->W,
						r->H);
					if (newly)
						audit(r,
						      "{\"event\":\"match\",\"frame\":%llu,\"tile\":[%d,%d],\"rule\":\"unreadable\","
						      "\"confidence\":%.2f,\"box\":[%d,%d,%d,%d]}",
						      (unsigned long long)r->frame, x0 / r->T, y0 / r->T,
						      (double)w->conf / 100, x0, y0, x1 - x0, y1 - y0);
				}
			}
		/* each cell under its column: the digit-free cells above it (a table
		 * header, a label over a field) are tried as its label, nearest
		 * first, at most three */
		for (int i = a; i < b; i++) {
			/* a cell that ends in a colon is a label itself ("Status:"
			 * under "Name:" in a column of labels): shown, never a value */
			if (ends_in_colon(r, &t, &items[i]))
				continue;
			int chain[64];
			bool hole;
			int nc = column_chain(items, a, i, chain, 64, &hole), tried = 0;
			/* fail closed: while the column's header or the cell right
			 * above (a label over a field) is not read, or the column
			 * has a hole between the cell and what may be its header,
			 * the cell cannot be judged ("Kd-Nr." over a column of
			 * customer numbers) */
			if (hole && items[i].line >= 0) {
				/* a hole matters for a value (digits, an '@': a customer
				 * number under "Kd-Nr."), and only when the chain broke
				 * before a header: a button under a menu bar is no column */
				bool value = reads_as_value(r, &t, &items[i], NULL);
				bool header = nc > 0 && items[chain[nc - 1]].line >= 0 &&
					      !reads_as_value(r, &t, &items[chain[nc - 1]], &items[i]) && t.nw > 0;
				hole = value && !header;
			}
			/* an identifier under a column whose nearest label is not
			 * known yet: a unit between the cell and the first read
			 * label above it is unread (a table's header not read yet
			 * while its rows are, on first appearance or after a
			 * scroll re-detected it): the toolbar's words further up
			 * are no label for it. Only identifiers: row numbers,
			 * amounts and dates stay shown past the row a scroll
			 * edge cuts, and a name or IBAN is judged by its shape */
			bool unlabelled = false;
			if (!hole && nc > 0 && items[i].line >= 0 && reads_as_identifier(r, &t, &items[i]))
				for (int c = 0; c < nc; c++) {
					if (items[chain[c]].line < 0) {
						unlabelled = true;
						break;
					}
					if (!reads_as_value(r, &t, &items[chain[c]], &items[i]) && t.nw > 0)
						break; /* its label */
				}
			if ((nc > 0 && (items[chain[nc - 1]].line < 0 || items[chain[0]].line < 0)) || hole ||
			    unlabelled) {
				int h = y1 - y0;
				add_box(r->cover, &r->ncover, items[i].x0 - h * 2 / 3, y0 - h / 3,
					items[i].x1 + h * 2 / 3, y1 + h / 3, r->W, r->H);
				continue;
			}
			for (int c0 = 0; c0 < nc && tried < 3; c0++) {
				/* the top of the column (its header) first, then upwards
				 * from the cell */
				int c = c0 == 0 ? nc - 1 : c0 - 1;
				if ((c0 > 0 && c == nc - 1) || items[chain[c]].line < 0)
					continue;
				/* no words, digits or an '@': a value, not a label */
				if (reads_as_value(r, &t, &items[chain[c]], &items[i]) || t.nw == 0)
					continue;
				/* a label with its value to its right ("IBAN: DE.." over a
				 * notes panel) is its row's label, not a column header */
				int j = chain[c];
				if (j + 1 < n && items[j + 1].row == items[j].row && items[j + 1].x0 >= items[j].x1 &&
				    ends_in_colon(r, &lt, &items[j]))
					continue;
				tried++;
				int from = (int)t.len + 1;
				row_append(r, &t, &items[i], '\t', NULL);
				scan_row(r, &t, from, y0, y1, newly);
			}
		}
		a = b;
	}
	/* units whose OCR found no words are judged too */
	for (int i = 0; i < r->nunits; i++)
		if (r->units[i].e->state == LS_OCRPOOL_DONE)
			r->units[i].reported = true;
	free(items);
}

void ls_redact_fill(const struct ls_redact_image *img, int width, int height, int x, int y, int w, int h)
{
	if (x < 0) {
		w += x;
		x = 0;
	}
	if (y < 0) {
		h += y;
		y = 0;
	}
	if (x + w > width)
		w = width - x;
	if (y + h > height)
		h = height - y;
	if (w <= 0 || h <= 0)
		return;
	for (int k = 0; k < h; k++)
		memset(img->planes[0] + (size_t)(y + k) * (size_t)img->strides[0] + x, 16, (size_t)w);
	int cx0 = x / 2, cy0 = y / 2, cx1 = (x + w + 1) / 2, cy1 = (y + h + 1) / 2;
	for (int p = 1; p < 3; p++)
		for (int k = cy0; k < cy1; k++)
			memset(img->planes[p] + (size_t)k * (size_t)img->strides[p] + cx0, 128, (size_t)(cx1 - cx0));
}

static void copy_plane(uint8_t *dst, int ds, const uint8_t *src, int ss, int w, int h)
{
	if (ds == ss && ds == w) {
		memcpy(dst, src, (size_t)w * (size_t)h);
		return;
	}
	for (int k = 0; k < h; k++)
		memcpy(dst + (size_t)k * (size_t)ds, src + (size_t)k * (size_t)ss, (size_t)w);
}

/* Compares tile (tx, ty) of @in with the previous frame, all three planes. */
static bool tile_changed(const struct ls_redactor *r, const struct ls_redact_image *in, int tx, int ty)
{
	int T = r->T;
	int x = tx * T, y = ty * T;
	int w = x + T <= r->W ? T : r->W - x, h = y + T <= r->H ? T : r->H - y;
	for (int k = 0; k < h; k++)
		if (memcmp(in->planes[0] + (size_t)(y + k) * (size_t)in->strides[0] + x,
			   r->prev[0] + (size_t)(y + k) * (size_t)r->pstride[0] + x, (size_t)w))
			return true;
	for (int p = 1; p < 3; p++)
		for (int k = 0; k < (h + 1) / 2; k++)
			if (memcmp(in->planes[p] + (size_t)(y / 2 + k) * (size_t)in->strides[p] + x / 2,
				   r->prev[p] + (size_t)(y / 2 + k) * (size_t)r->pstride[p] + x / 2,
				   (size_t)(w + 1) / 2))
				return true;
	return false;
}

/* True when luma tile (tx, ty) of @in equals the previous frame @dy rows
 * further down (its content scrolled up by dy; dy < 0: down). */
static bool tile_moved(const struct ls_redactor *r, const struct ls_redact_image *in, int tx, int ty, int dy)
{
	int T = r->T, x = tx * T, y = ty * T;
	int w = x + T <= r->W ? T : r->W - x, h = y + T <= r->H ? T : r->H - y;
	if (y + dy < 0 || y + h + dy > r->H)
		return false;
	for (int k = 0; k < h; k++)
		if (memcmp(in->planes[0] + (size_t)(y + k) * (size_t)in->strides[0] + x,
			   r->prev[0] + (size_t)(y + k + dy) * (size_t)r->pstride[0] + x, (size_t)w))
			return false;
	return true;
}

/* True when @u's exact luma (what OCR read) is in @in at row @y, its x. */
static bool unit_pixels_at(const struct ls_redact_image *in, const struct unit *u, int y, int H)
{
	if (y < 0 || y + u->b.h > H)
		return false;
	for (int row = 0; row < u->b.h; row++)
		if (memcmp(in->planes[0] + (size_t)(y + row) * (size_t)in->strides[0] + u->b.x,
			   u->e->pix + (size_t)row * (size_t)u->e->w, (size_t)u->b.w) != 0)
			return false;
	return true;
}

/* Moves the verdicts with a scroll of @dy: a changed tile whose luma is the
 * previous frame's, dy rows down, needs no new text detection (marked 2);
 * a unit on changed tiles moves up by dy when its exact pixels are found
 * there (the same OCR result and verdict apply: OCR reads luma only); a
 * unit that cannot follow goes, and its tiles are detected again. */
static void follow_scroll(struct ls_redactor *r, const struct ls_redact_image *in, int dy)
{
	int T = r->T;
	for (int ty = 0; ty < r->ty; ty++)
		for (int tx = 0; tx < r->tx; tx++)
			if (r->changed[ty * r->tx + tx] && tile_moved(r, in, tx, ty, dy))
				r->changed[ty * r->tx + tx] = 2;
	int k = 0;
	for (int i = 0; i < r->nunits; i++) {
		struct unit u = r->units[i];
		bool touched = false;
		for (int ty = u.b.y / T; ty <= (u.b.y + u.b.h - 1) / T && !touched; ty++)
			for (int tx = u.b.x / T; tx <= (u.b.x + u.b.w - 1) / T && !touched; tx++)
				touched = r->changed[ty * r->tx + tx] != 0;
		if (!touched) {
			r->units[k++] = u;
			continue;
		}
		struct ls_redact_box nb = { u.b.x, u.b.y - dy, u.b.w, u.b.h };
		if (unit_pixels_at(in, &u, nb.y, r->H)) {
			u.b = nb;
			r->units[k++] = u;
			continue;
		}
		/* a unit that did not move (a table's fixed header over the
		 * rows scrolling under it, sharing their tiles) stays, read:
		 * re-detecting it every frame left it unread, and the column
		 * under it without its header, frame after frame */
		if (unit_pixels_at(in, &u, u.b.y, r->H)) {
			r->units[k++] = u;
			continue;
		}
		/* lost: whatever is where it went (and was) is read again */
		if (r->debug)
			fprintf(stderr, "frame %llu lost unit %d,%d %dx%d\n", (unsigned long long)r->frame, u.b.x,
				u.b.y, u.b.w, u.b.h);
		u.e->refs--;
		for (int pass = 0; pass < 2; pass++) {
			int y0 = pass ? nb.y : u.b.y;
			int ya = y0 < 0 ? 0 : y0, yb = y0 + u.b.h > r->H ? r->H : y0 + u.b.h;
			for (int ty = ya / T; yb > ya && ty <= (yb - 1) / T; ty++)
				for (int tx = u.b.x / T; tx <= (u.b.x + u.b.w - 1) / T; tx++)
					if (r->changed[ty * r->tx + tx])
						r->changed[ty * r->tx + tx] = 1;
		}
	}
	r->nunits = k;
	r->dirty = true;
}

int ls_redactor_process(struct ls_redactor *r, const struct ls_redact_image *in, struct ls_redact_image *out,
			int64_t capture_ns, int64_t now_ns, struct ls_redact_stats *st)
{
	struct ls_redact_stats dummy;
	if (!st)
		st = &dummy;
	memset(st, 0, sizeof(*st));
	if (!r || !in || !out || !in->planes[0] || !out->planes[0])
		return -EINVAL;
	int64_t t0 = ls_monotonic_ns();
	r->frame++;
	r->tot.frames++;
	drain_done(r);

	/* 1. change, tile by tile, byte for byte */
	int T = r->T;
	for (int ty = 0; ty < r->ty; ty++)
		for (int tx = 0; tx < r->tx; tx++) {
			bool ch = !r->have_prev || tile_changed(r, in, tx, ty);
			r->changed[ty * r->tx + tx] = ch;
			st->changed_tiles += ch;
		}
	/* 2. scrolling of the changed region (measured before prev moves on) */
	if (r->have_prev && st->changed_tiles >= 4)
		st->scroll_dy = measure_scroll(r, in);
	if (st->scroll_dy)
		follow_scroll(r, in, st->scroll_dy);
	if (r->debug) {
		int c1 = 0, c2 = 0;
		for (int t = 0; t < r->tx * r->ty; t++) {
			c1 += r->changed[t] == 1;
			c2 += r->changed[t] == 2;
		}
		fprintf(stderr, "frame %llu changed %d moved %d dy %d\n", (unsigned long long)r->frame, c1, c2,
			st->scroll_dy);
		if (getenv("LS_REDACT_DEBUG_TILES"))
			for (int ty = 0; ty < r->ty; ty++) {
				char rowbuf[300];
				int k = 0;
				for (int tx = 0; tx < r->tx && k < 298; tx++)
					rowbuf[k++] = ".12"[r->changed[ty * r->tx + tx]];
				rowbuf[k] = 0;
				fprintf(stderr, "tiles %3d %s\n", ty, rowbuf);
			}
	}
	if (st->changed_tiles) {
		copy_plane(r->prev[0], r->pstride[0], in->planes[0], in->strides[0], r->W, r->H);
		copy_plane(r->prev[1], r->pstride[1], in->planes[1], in->strides[1], r->W / 2, r->H / 2);
		copy_plane(r->prev[2], r->pstride[2], in->planes[2], in->strides[2], r->W / 2, r->H / 2);
		r->have_prev = true;
	}
	if (r->debug_units)
		for (int i = 0; i < r->nunits; i++)
			fprintf(stderr, "frame %llu unit %d,%d %dx%d state %d\n", (unsigned long long)r->frame,
				r->units[i].b.x, r->units[i].b.y, r->units[i].b.w, r->units[i].b.h,
				r->units[i].e->state);
	/* 3. text in bands around the changed tile rows */
	int done_to = 0;
	for (int ty = 0; ty < r->ty; ty++) {
		bool any = false;
		for (int tx = 0; tx < r->tx && !any; tx++)
			any = r->changed[ty * r->tx + tx] == 1;
		if (!any)
			continue;
		int ty1 = ty;
		for (;;) {
			bool next = false;
			for (int tx = 0; ty1 + 1 < r->ty && tx < r->tx && !next; tx++)
				next = r->changed[(ty1 + 1) * r->tx + tx] == 1;
			if (!next)
				break;
			ty1++;
		}
		int b0 = ty * T - T, b1 = (ty1 + 1) * T + T;
		if (b0 < done_to)
			b0 = done_to;
		if (b1 > r->H)
			b1 = r->H;
		if (b0 < b1)
			done_to = redetect_band(r, in, b0, b1, now_ns, st);
		ty = ty1;
	}
	ls_ocrpool_trim(r->pool);

	/* live, a few new units (typing, a clock, a hover): wait a moment for
	 * them, so the frame goes out read rather than masked (and the next
	 * one, a frame later, does not have to show what this one hid) */
	if (!r->p.wait && r->p.hold_ns > 0) {
		int npend = pending_units(r);
		int64_t deadline = t0 + r->p.hold_ns;
		/* within the budget, with a margin for composing the frame */
		if (capture_ns && deadline > t0 + (capture_ns + r->p.budget_ns - now_ns) - HOLD_MARGIN_NS)
			deadline = t0 + (capture_ns + r->p.budget_ns - now_ns) - HOLD_MARGIN_NS;
		while (npend > 0 && npend <= HOLD_UNITS_MAX && !ls_ocrpool_watchdog(r->pool, ls_monotonic_ns())) {
			if (!ls_ocrpool_wait_until(r->pool, deadline))
				break;
			drain_done(r);
			npend = pending_units(r);
		}
	}

	/* offline: wait for the text read so far */
	if (r->p.wait) {
		for (;;) {
			if (!pending_units(r) || ls_ocrpool_watchdog(r->pool, ls_monotonic_ns()))
				break;
			ls_ocrpool_wait(r->pool);
			drain_done(r);
		}
	}

	/* 4. verdicts */
	if (r->dirty) {
		judge(r, now_ns);
		r->dirty = false;
	}
	for (int i = 0; i < r->nunits; i++) {
		st->units++;
		st->pending_units += r->units[i].e->state != LS_OCRPOOL_DONE;
	}

	/* 5. compose */
	copy_plane(out->planes[0], out->strides[0], in->planes[0], in->strides[0], r->W, r->H);
	copy_plane(out->planes[1], out->strides[1], in->planes[1], in->strides[1], r->W / 2, r->H / 2);
	copy_plane(out->planes[2], out->strides[2], in->planes[2], in->strides[2], r->W / 2, r->H / 2);
	int64_t t1 = ls_monotonic_ns();
	const char *why = ls_ocrpool_watchdog(r->pool, t1);
	if (!why && capture_ns && now_ns + (t1 - t0) - capture_ns > r->p.budget_ns)
		why = "latency-budget";
	if (why) {
		ls_redact_fill(out, r->W, r->H, 0, 0, r->W, r->H);
		st->full_mask = true;
		st->full_why = why;
		r->tot.full_masks++;
		audit(r, "{\"event\":\"full-mask\",\"frame\":%llu,\"why\":\"%s\",\"latency_ms\":%.1f}",
		      (unsigned long long)r->frame, why, (double)(now_ns + (t1 - t0) - capture_ns) / 1e6);
	} else {
		/* unread units are covered by their rows' boxes (r->cover, with
		 * a margin); the tiles they touch are counted, not filled: a whole
		 * tile hid a table's header over the row scrolling in under it */
		for (int t = 0; t < r->tx * r->ty; t++)
			st->pending_tiles += r->pending_tile[t];
		for (int i = 0; i < r->ncover; i++)
			ls_redact_fill(out, r->W, r->H, r->cover[i].x, r->cover[i].y, r->cover[i].w, r->cover[i].h);
		for (int i = 0; i < r->nmasks; i++)
			ls_redact_fill(out, r->W, r->H, r->masks[i].x, r->masks[i].y, r->masks[i].w, r->masks[i].h);
		st->mask_boxes = r->nmasks;
	}
	st->process_ns = ls_monotonic_ns() - t0;
	return 0;
}

static bool in_boxes(const struct ls_redact_box *bx, int n, int x, int y)
{
	for (int i = 0; i < n; i++)
		if (x >= bx[i].x && x < bx[i].x + bx[i].w && y >= bx[i].y && y < bx[i].y + bx[i].h)
			return true;
	return false;
}

/* Every sample point of the box (a 2 px grid and its far edges) is covered:
 * by a personal-data mask, or with @any also as unread (its row's box). */
static bool box_covered(const struct ls_redactor *r, int x, int y, int w, int h, bool any)
{
	for (int yy = y; yy < y + h; yy += (yy + 2 < y + h ? 2 : (yy + 1 < y + h ? 1 : h)))
		for (int xx = x; xx < x + w; xx += (xx + 2 < x + w ? 2 : (xx + 1 < x + w ? 1 : w))) {
			bool in = in_boxes(r->masks, r->nmasks, xx, yy);
			if (!in && any && xx >= 0 && yy >= 0 && xx < r->W && yy < r->H)
				in = in_boxes(r->cover, r->ncover, xx, yy);
			if (!in)
				return false;
		}
	return true;
}

bool ls_redactor_masked_as_pii(const struct ls_redactor *r, int x, int y, int w, int h)
{
	return box_covered(r, x, y, w, h, false);
}

bool ls_redactor_covered(const struct ls_redactor *r, int x, int y, int w, int h)
{
	return box_covered(r, x, y, w, h, true);
}

void ls_redactor_totals(struct ls_redactor *r, struct ls_redact_totals *t)
{
	ls_ocrpool_watchdog(r->pool, ls_monotonic_ns());
	ls_ocrpool_totals(r->pool, &r->tot);
	*t = r->tot;
}

void ls_redactor_free(struct ls_redactor **rp)
{
	struct ls_redactor *r = rp ? *rp : NULL;
	if (!r)
		return;
	ls_ocrpool_free(&r->pool);
	free(r->units);
	free(r->masks);
	free(r->cover);
	free(r->found);
	free(r->changed);
	free(r->pending_tile);
	for (int p = 0; p < 3; p++)
		free(r->prev[p]);
	free(r);
	*rp = NULL;
}
