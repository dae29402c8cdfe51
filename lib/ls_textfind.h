/* ls_textfind — the text detector of the redactor (ls_redact.h): finds the
 * text units of a grey plane, boxes of one line of screen text or of a few
 * touching lines.
 *
 * Made for screen text: luma steps as edges, long horizontal and vertical
 * rules (table borders) removed, glyphs smeared into words and lines over
 * small cells, connected components. The redactor runs it in horizontal
 * bands around what changed; tests and benchmarks call it directly (through
 * ls_redact.h, which includes this header).
 *
 * Threads: no state; any thread. Allocates its scratch per call. */
#ifndef LS_TEXTFIND_H
#define LS_TEXTFIND_H

#include <stdint.h>

struct ls_redact_box {
	int x, y, w, h;
};

/** Finds text units in rows [y0, y1) of a grey plane. Returns the number of
 *  boxes written (<= max), or < 0 on allocation failure. */
int ls_redact_find_text(const uint8_t *gray, int stride, int width, int height, int y0, int y1,
			struct ls_redact_box *out, int max);

#endif
