/* ls_font — a small bitmap font for labels drawn into 8-bit planes.
 *
 * Lockstep draws its own labels (camera name, slot, skew) straight into the
 * luma plane of the mosaic so that the text survives any encoder or player
 * and needs no text-rendering library. The font is lockstep's own design:
 * every printable ASCII character (0x20..0x7E) as a 5x9 bitmap, rows 0-6 for
 * capitals and digits, rows 7-8 for descenders, placed in a 6x10 cell so
 * that consecutive glyphs and lines never touch. Other bytes (control
 * characters, UTF-8) are drawn as '?'.
 *
 * All sizes are in pixels of the target plane at scale 1; at scale s every
 * font pixel becomes an s x s block.
 *
 * Threads: the functions keep no state; any thread may call them on planes
 * it owns. They never allocate. */
#ifndef LS_FONT_H
#define LS_FONT_H

#include <stdint.h>

#define LS_FONT_GLYPH_W 5    /**< inked columns per glyph */
#define LS_FONT_GLYPH_H 9    /**< inked rows per glyph, descenders included */
#define LS_FONT_BASELINE 7   /**< first row below the baseline (descenders) */
#define LS_FONT_CELL_W 6     /**< horizontal advance per character */
#define LS_FONT_CELL_H 10    /**< line height */
#define LS_FONT_SCALE_MAX 64 /**< largest scale accepted (a 384 x 640 pixel cell) */

/** Width in pixels of the cells of @text at @scale (strlen * CELL_W *
 *  scale; the last cell's blank column is included). Returns -EINVAL for a
 *  NULL text or a scale outside 1..LS_FONT_SCALE_MAX, -EOVERFLOW when the
 *  width does not fit an int. */
int ls_font_text_width(const char *text, int scale);

/** Draws @text with the top-left corner of its first cell at (@x, @y) in an
 *  8-bit @plane of @w x @h pixels, @stride bytes per row (>= w). Writes only
 *  inside [0, w) x [0, h): text may start or run outside the plane (negative
 *  x or y included) and is clipped. Inked pixels get @fg; when @bg is 0..255
 *  the rest of each cell (LS_FONT_CELL_W x LS_FONT_CELL_H per character,
 *  times scale) gets @bg, when it is -1 they are left as they were.
 *  Returns the text width (as ls_font_text_width()) or -EINVAL for a bad
 *  argument, in which case nothing is drawn. */
int ls_font_draw_gray(uint8_t *plane, int stride, int w, int h, int x, int y, int scale, const char *text, uint8_t fg,
		      int bg);

/** The bitmap of character @c: LS_FONT_GLYPH_H rows, top first, bit 4
 *  (0x10) the leftmost column. Bytes outside 0x20..0x7E give the '?' glyph.
 *  For tests and for drawing into other pixel layouts. */
const uint8_t *ls_font_glyph(unsigned char c);

#endif
