/* ls_mosaic — one frameset as one tiled, labelled I420 picture.
 *
 * "Seeing the sync": every camera of a frameset becomes a tile of a grid
 * (ceil(sqrt(ncams)) columns, as many rows as needed, tiles in camera
 * order, left to right then top to bottom) with a label box in its top-left
 * corner: the camera name, then "n=<slot> skew=<x.x>ms", then for a present
 * frame "d=<+x.x>ms" (its distance from the slot centre). A held frame is
 * shown with an inverted "HELD <age>ms" box under the label; a missing
 * camera is a dark grey tile with "MISSING" across its middle. Tiles are
 * separated by a 2-pixel black border. Sources keep their aspect ratio
 * (letterboxed with black) unless it is within 1/32 of the tile's, in which
 * case they fill the tile.
 *
 * Scaling is nearest-neighbour through per-camera tables that are computed
 * once per source size, so composing never allocates: all memory is taken
 * by ls_mosaic_new().
 *
 * Colours are BT.601 limited range ("studio swing", Y 16..235): packed RGB
 * sources are converted with the usual 8-bit integer approximation.
 *
 * Threads: a mosaic is used by one thread at a time (the mosaic sink's
 * streaming thread); it has no lock. ls_mosaic_compose() only reads the
 * frameset and its frames, which are read-only once emitted. */
#ifndef LS_MOSAIC_H
#define LS_MOSAIC_H

#include <stddef.h>
#include <stdint.h>

#include "ls_frameset.h"
#include "ls_frame.h"

/** Longest camera name kept for the label, in bytes; longer ones are cut. */
#define LS_MOSAIC_NAME_MAX 63

/** Opaque type */
struct ls_mosaic;

/** A mosaic of @out_w x @out_h pixels (both even, each tile at least 16 x 16)
 *  for @ncams cameras (1..65536, the range of ls_frame.cam). @cam_names has @ncams strings, copied; it or
 *  any of its strings may be NULL, which labels the camera "cam<index>".
 *  Returns NULL with errno EINVAL (bad size or count) or ENOMEM. */
struct ls_mosaic *ls_mosaic_new(int out_w, int out_h, unsigned ncams, const char *const *cam_names);

/** Frees the mosaic and sets *m to NULL. NULL-safe. */
void ls_mosaic_free(struct ls_mosaic **m);

/** Bytes of the picture ls_mosaic_compose() writes: out_w * out_h * 3 / 2. */
size_t ls_mosaic_buffer_size(const struct ls_mosaic *m);

/** The grid: columns and rows (either pointer may be NULL). */
void ls_mosaic_grid(const struct ls_mosaic *m, int *cols, int *rows);

/** The picture area of camera @cam's tile in output pixels, borders
 *  excluded (x, y, w, h all even). Returns 0, or -EINVAL when @cam is out
 *  of range (the outputs are then left alone). */
int ls_mosaic_tile_rect(const struct ls_mosaic *m, unsigned cam, int *x, int *y, int *w, int *h);

/** Where the last composed picture of camera @cam lies in output pixels
 *  (letterbox bars excluded), and the source size it was scaled from.
 *  Returns 0, -EINVAL for a bad @cam, or -ENOENT before the camera's first
 *  picture. For drawing over the picture (detection boxes). */
int ls_mosaic_picture_rect(const struct ls_mosaic *m, unsigned cam, int *x, int *y, int *w, int *h, int *src_w,
			   int *src_h);

/** Composes @set into @out_i420, a tightly packed I420 picture of
 *  ls_mosaic_buffer_size() bytes (Y, then U, then V). Every byte of it is
 *  written. Entry i of the set is camera i; cameras beyond set->ncams are
 *  shown missing, entries beyond the mosaic's ncams are ignored. Source
 *  frames may be I420, NV12, GRAY8, BGRX or RGBA of any size, with any
 *  strides >= their row size; a frame in another format, or whose planes
 *  are missing, is shown as a grey "BAD FORMAT" tile rather than failing
 *  the whole picture. Called from the mosaic thread; never allocates and
 *  never blocks. Returns 0 or -EINVAL (NULL argument). */
int ls_mosaic_compose(struct ls_mosaic *m, const struct ls_frameset *set, uint8_t *out_i420);

/** Draws a clock bar into the bottom eighth of a luma plane (@w x @h pixels,
 *  @stride bytes per row): a black band with grey ticks every 100 ms and a
 *  white bar, w/64 pixels wide (at least 1), centred at
 *  x = (t_ns mod 1 s) / 1 s * w (wrapping round the edges). Synthetic
 *  cameras draw it with their capture time: when the cameras are in step,
 *  the bars line up across the tiles of the mosaic. Only rows of the band
 *  are written; chroma is not touched, so a colour source should set its
 *  chroma under the band (rows h - h/8 .. h-1) to 128 itself, or the band
 *  takes the picture's tint. Any thread; never allocates. */
void ls_draw_clock_bar(uint8_t *y_plane, int stride, int w, int h, int64_t t_ns);

#endif
