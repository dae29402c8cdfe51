/* ls_textfind — the text detector: screen text units of a grey plane (see
 * ls_textfind.h). */
#include "ls_textfind.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define EDGE_T 24  /* luma step that counts as an edge */
#define CELL_W 4   /* detector cells: CELL_W pixels wide, one row high */
#define SMEAR 2    /* empty cells bridged inside a word or line */
#define RULE_V 30  /* a vertical edge this tall is a rule (a table border, a field's or a button's side), not a glyph */
#define RULE_H 320 /* a horizontal edge this long is a rule */
#define RULE_GAP 2 /* a rule goes on over gaps this long (where it crosses another) */
#define MIN_H 6    /* smaller components are not text */
#define MIN_W 6

struct run {
	int row, c0, c1; /* cells [c0, c1] */
	int parent;
};

static int uf_find(struct run *r, int i)
{
	while (r[i].parent != i) {
		r[i].parent = r[r[i].parent].parent;
		i = r[i].parent;
	}
	return i;
}

static void uf_union(struct run *r, int a, int b)
{
	a = uf_find(r, a);
	b = uf_find(r, b);
	if (a != b) {
		if (a < b)
			r[b].parent = a;
		else
			r[a].parent = b;
	}
}

/* One row of edge bits; written so that GCC vectorises it (the whole
 * detector's hot loop: 2 million pixels for a full 1080p change). */
__attribute__((optimize("O3", "tree-vectorize"))) static void edge_row(const uint8_t *restrict g,
								       const uint8_t *restrict gn, uint8_t *restrict er,
								       int width)
{
	for (int x = 0; x < width - 1; x++) {
		uint8_t a = g[x], b = g[x + 1], c = gn[x];
		uint8_t dh = (uint8_t)(a > b ? a - b : b - a), dv = (uint8_t)(a > c ? a - c : c - a);
		er[x] = (uint8_t)((dh > EDGE_T) | ((dv > EDGE_T) << 1));
	}
	uint8_t a = g[width - 1], c = gn[width - 1];
	er[width - 1] = (uint8_t)((uint8_t)(a > c ? a - c : c - a) > EDGE_T) << 1;
}

/* Column run lengths of horizontal steps, row by row: vrun[x] counts the
 * rows of the run at x so far, gaps included, vgap[x] the rows since its
 * last step (er NULL: the end). A run goes on over gaps of up to RULE_GAP
 * rows: where a table's row lines cross a column line the step is missing
 * for a row or two, and the column line would otherwise fall apart into
 * cell-high pieces that are shorter than a rule. Returns true when a run
 * with RULE_V or more rows of steps ended in this row (the caller then
 * clears it, from the previous lengths). */
__attribute__((optimize("O3", "tree-vectorize"))) static bool vrun_row(const uint8_t *restrict er,
								       uint16_t *restrict vrun, uint16_t *restrict vgap,
								       int width)
{
	int ended = 0;
	for (int x = 0; x < width; x++) {
		uint16_t on = er ? (uint16_t)(er[x] & 1) : 0;
		uint16_t gap = on ? 0 : (uint16_t)(vgap[x] + 1);
		uint16_t cont = on | (uint16_t)((vrun[x] > 0) & (gap <= RULE_GAP) & (er != NULL));
		ended |= (!cont) & (vrun[x] - vgap[x] >= RULE_V);
		vrun[x] = cont ? (uint16_t)(vrun[x] < 60000 ? vrun[x] + 1 : vrun[x]) : 0;
		vgap[x] = cont ? gap : 0;
	}
	return ended != 0;
}

/* Marks the cells of a row that hold any edge. */
__attribute__((optimize("O3", "tree-vectorize"))) static void cells_row(const uint8_t *restrict er,
									uint8_t *restrict ir, int width)
{
	int full = width / CELL_W;
	for (int c = 0; c < full; c++) {
		const uint8_t *p = er + c * CELL_W;
		ir[c] = (uint8_t)((p[0] | p[1] | p[2] | p[3]) != 0);
	}
	for (int x = full * CELL_W; x < width; x++)
		if (er[x])
			ir[x / CELL_W] = 1;
}

int ls_redact_find_text(const uint8_t *gray, int stride, int width, int height, int y0, int y1,
			struct ls_redact_box *out, int max)
{
	if (y0 < 0)
		y0 = 0;
	if (y1 > height)
		y1 = height;
	int rows = y1 - y0;
	if (rows <= 0 || width < 2 || max <= 0)
		return 0;
	int ncell = (width + CELL_W - 1) / CELL_W;
	uint8_t *e = malloc((size_t)rows * (size_t)width);
	uint8_t *ink = calloc((size_t)rows * (size_t)ncell, 1);
	uint16_t *vrun = calloc((size_t)width * 4, sizeof(*vrun)), *vrun_end = vrun + width;
	uint16_t *vgap = vrun + 2 * (size_t)width, *vgap_end = vrun + 3 * (size_t)width;
	struct run *runs = NULL;
	int nruns = 0, cap = 0, n = 0;
	if (!e || !ink || !vrun) {
		n = -ENOMEM;
		goto out;
	}
	/* edges: bit 0 horizontal step to the right, bit 1 vertical step down */
	for (int r = 0; r < rows; r++) {
		const uint8_t *g = gray + (size_t)(y0 + r) * (size_t)stride;
		const uint8_t *gn = (y0 + r + 1 < height) ? g + stride : g;
		uint8_t *er = e + (size_t)r * (size_t)width;
		edge_row(g, gn, er, width);
		/* horizontal rules: a long run of vertical steps along the row */
		int start = -1, last = -1;
		for (int x = 0; x <= width; x++) {
			if (start < 0 && x + 8 <= width) {
				uint64_t v;
				memcpy(&v, er + x, 8);
				if (!(v & 0x0202020202020202ULL)) {
					x += 7;
					continue;
				}
			}
			bool on = x < width && (er[x] & 2);
			if (on) {
				if (start < 0)
					start = x;
				last = x;
			} else if (start >= 0 && (x - last > RULE_GAP || x == width)) {
				/* over gaps of up to RULE_GAP: where a column line crosses it */
				if (last + 1 - start >= RULE_H)
					for (int k = start; k <= last; k++)
						er[k] &= (uint8_t)~2u;
				start = -1;
			}
		}
	}
	/* vertical rules: a tall run of horizontal steps in one column */
	for (int r = 0; r <= rows; r++) {
		const uint8_t *er = r < rows ? e + (size_t)r * (size_t)width : NULL;
		if (vrun_row(er, vrun, vgap, width))
			for (int x = 0; x < width; x++)
				if (!vrun[x] && vrun_end[x] - vgap_end[x] >= RULE_V)
					for (int k = r - vrun_end[x]; k < r - vgap_end[x]; k++)
						e[(size_t)k * (size_t)width + (size_t)x] &= (uint8_t)~1u;
		memcpy(vrun_end, vrun, (size_t)width * sizeof(*vrun));
		memcpy(vgap_end, vgap, (size_t)width * sizeof(*vgap));
	}
	/* cells, with small gaps bridged, and their runs */
	for (int r = 0; r < rows; r++) {
		const uint8_t *er = e + (size_t)r * (size_t)width;
		uint8_t *ir = ink + (size_t)r * (size_t)ncell;
		cells_row(er, ir, width);
		int last = -1;
		for (int c = 0; c < ncell; c++) {
			if (!ir[c])
				continue;
			if (last >= 0 && c - last - 1 <= SMEAR)
				for (int k = last + 1; k < c; k++)
					ir[k] = 1;
			last = c;
		}
		for (int c = 0; c < ncell;) {
			if (!ir[c]) {
				c++;
				continue;
			}
			int c0 = c;
			while (c < ncell && ir[c])
				c++;
			if (nruns == cap) {
				cap = cap ? cap * 2 : 1024;
				struct run *nr = realloc(runs, (size_t)cap * sizeof(*runs));
				if (!nr) {
					n = -ENOMEM;
					goto out;
				}
				runs = nr;
			}
			runs[nruns] = (struct run){ r, c0, c - 1, nruns };
			nruns++;
		}
	}
	/* connected components: runs of neighbouring rows that overlap */
	int prev_a = 0, prev_b = 0; /* runs of the previous row: [prev_a, prev_b) */
	for (int i = 0; i < nruns;) {
		int row = runs[i].row, a = i;
		while (i < nruns && runs[i].row == row)
			i++;
		if (prev_b > prev_a && runs[prev_a].row == row - 1) {
			int p = prev_a;
			for (int k = a; k < i; k++) {
				while (p < prev_b && runs[p].c1 < runs[k].c0)
					p++;
				for (int q = p; q < prev_b && runs[q].c0 <= runs[k].c1; q++)
					uf_union(runs, k, q);
			}
		}
		prev_a = a;
		prev_b = i;
	}
	/* boxes per root, in cell and row units; reuse the run's fields */
	size_t nbox = nruns > 0 ? (size_t)nruns : 1;
	int *bx0 = malloc(nbox * 4 * sizeof(int));
	if (!bx0) {
		n = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < nruns; i++) {
		int root = uf_find(runs, i);
		int *b = bx0 + 4 * root;
		if (root == i) {
			b[0] = runs[i].c0;
			b[1] = runs[i].c1;
			b[2] = runs[i].row;
			b[3] = runs[i].row;
		}
	}
	for (int i = 0; i < nruns; i++) {
		int root = uf_find(runs, i);
		if (root == i)
			continue;
		int *b = bx0 + 4 * root;
		if (runs[i].c0 < b[0])
			b[0] = runs[i].c0;
		if (runs[i].c1 > b[1])
			b[1] = runs[i].c1;
		if (runs[i].row > b[3])
			b[3] = runs[i].row;
	}
	for (int i = 0; i < nruns && n < max; i++) {
		if (runs[i].parent != i)
			continue;
		int *b = bx0 + 4 * i;
		int x0 = b[0] * CELL_W, x1 = (b[1] + 1) * CELL_W;
		if (x1 > width)
			x1 = width;
		/* tighten x to the edge pixels (cells are coarse) */
		int tx0 = x1, tx1 = x0;
		for (int r = b[2]; r <= b[3]; r++) {
			const uint8_t *er = e + (size_t)r * (size_t)width;
			for (int x = x0; x < tx0; x++)
				if (er[x]) {
					tx0 = x;
					break;
				}
			for (int x = x1 - 1; x >= tx1; x--)
				if (er[x]) {
					tx1 = x;
					break;
				}
		}
		if (tx1 < tx0)
			continue;
		int w = tx1 - tx0 + 2, h = b[3] - b[2] + 1;
		if (h < MIN_H || w < MIN_W)
			continue;
		if (tx0 + w > width)
			w = width - tx0;
		out[n++] = (struct ls_redact_box){ tx0, y0 + b[2], w, h };
	}
	free(bx0);
out:
	free(runs);
	free(vrun);
	free(ink);
	free(e);
	return n;
}
