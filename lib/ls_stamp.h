/* ls_stamp — a frame's slot n and capture time drawn into its picture as a
 * strip of black and white blocks that a program (a test, a browser page
 * reading a canvas) reads back after encoding, streaming, decoding and
 * scaling. test://?pattern=clock draws it on every frame; comparing what a
 * viewer shows with the clock gives glass-to-glass latency and which slot
 * each tile shows.
 *
 * Geometry is relative to the picture, so it survives scaling: the strip is
 * the top LS_STAMP_ROWS / LS_STAMP_ROW_DIV of the picture (4/24 = 1/6),
 * LS_STAMP_ROWS rows of LS_STAMP_CELLS cells, each w/32 wide and h/24 tall.
 * Each row starts with a white cell and ends with a black one (guards, and
 * the threshold between them); the 30 cells between carry bits, most
 * significant first, white = 1. The 120 bits: slot n (48 bits, two's
 * complement), capture time in µs since 1970 (56 bits), CRC-16/CCITT of
 * those 13 bytes (16 bits). A reader samples the middle half of each cell.
 *
 * Pure C on one luma plane; no allocation, any thread. */
#ifndef LS_STAMP_H
#define LS_STAMP_H

#include <stdint.h>

#define LS_STAMP_ROWS 4
#define LS_STAMP_CELLS 32
#define LS_STAMP_ROW_DIV 24

/** Draws the strip into the luma plane @y (@w x @h, @stride bytes per row),
 *  and clears the matching chroma, when @u and @v (I420: @w/2 x @h/2,
 *  @cstride) are not NULL. Pictures smaller than 64 x 48 are left as they
 *  are. */
void ls_stamp_draw(uint8_t *y, int stride, uint8_t *u, uint8_t *v, int cstride, int w, int h, int64_t slot,
		   int64_t capture_ns);
/** Reads the strip of the @w x @h luma plane @y. Returns 0 with *slot and
 *  *capture_us set, or -EBADMSG when there is none (guards or CRC wrong). */
int ls_stamp_read(const uint8_t *y, int stride, int w, int h, int64_t *slot, int64_t *capture_us);

#endif
