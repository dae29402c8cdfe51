/* ls_detect — the model-independent parts of object detection: turning a
 * camera frame into a model input, and a model's output tensors into boxes.
 * Plain C11, no ONNX Runtime: src/stages/detector.c runs the model in between.
 *
 * Coordinates: a box is (x1, y1, x2, y2) in pixels of the camera frame,
 * x2/y2 exclusive edges, clipped to the frame. The model input is a
 * letterbox of the frame: scaled by one factor to fit in_w x in_h, centred
 * and padded, described by struct ls_letterbox, which maps both ways.
 *
 * Threads: every function is reentrant; none allocates except
 * ls_detect_nms()'s caller-provided scratch (none) — all buffers are the
 * caller's. */
#ifndef LS_DETECT_H
#define LS_DETECT_H

#include <stddef.h>
#include <stdint.h>

#include "ls_frame.h"

#define LS_COCO_CLASSES 80

/** COCO class @i's name ("person", "bicycle", ... "toothbrush"), the 80
 *  classes in the usual order; NULL for i outside 0..79. */
const char *ls_coco_name(int i);
/** Index of the COCO class called @name, or -1. */
int ls_coco_index(const char *name);

struct ls_det {
	float x1, y1, x2, y2; /**< frame pixels */
	float score;          /**< 0..1 */
	int cls;              /**< class index (COCO for the built-in models) */
	int has_quad;         /**< quad holds a rotated box (text lines from dbnet) */
	float quad[8];        /**< its corners x0,y0..x3,y3, frame pixels, clockwise from the top-left one */
};

struct ls_letterbox {
	float scale;        /**< model pixels per frame pixel */
	float pad_x, pad_y; /**< model pixels left of / above the picture */
	int frame_w, frame_h;
	int in_w, in_h;
};

/** The letterbox of a @frame_w x @frame_h frame in a @in_w x @in_h input. */
struct ls_letterbox ls_letterbox_make(int frame_w, int frame_h, int in_w, int in_h);

/** Writes @f as planar float RGB into @dst (3 planes of in_w * in_h, R then
 *  G then B; the layout of one NCHW batch item), letterboxed per @lb:
 *  bilinear scaling of luma and chroma, BT.601 limited-range YUV (or packed
 *  RGB) to RGB, each value v in 0..255 stored as v * @mul; padding gets
 *  @pad * @mul. Formats: I420, NV12, GRAY8, BGRX, RGBA. Returns 0, or
 *  -EINVAL for another format or a frame without planes (dst untouched). */
int ls_detect_preprocess(const struct ls_frame *f, const struct ls_letterbox *lb, float *dst, float mul, float pad);

/** CenterNet decoding. @heat is [ncls, gh, gw] scores already reduced to
 *  local maxima (non-peaks 0), @wh is [4, gh, gw]: distances left, top,
 *  right, bottom from the cell centre (x * stride, y * stride) in model
 *  pixels, stride = in_w / gw. Cells with score >= @thresh whose class is
 *  in @want (a bitmap of ncls bits; NULL: every class) become detections
 *  in frame pixels. Writes at most @max into @out, the highest scores
 *  first; returns how many. */
int ls_detect_centernet(const float *heat, const float *wh, int ncls, int gh, int gw, const struct ls_letterbox *lb,
			float thresh, const uint8_t *want, struct ls_det *out, int max);

/** YOLOv8-style decoding. @t is [4 + ncls, n] (row-major, one column per
 *  candidate): cx, cy, w, h in model pixels, then ncls class scores in 0..1.
 *  Each candidate's best class with score >= @thresh (and in @want) is kept,
 *  then class-wise NMS at @iou. Writes at most @max into @out, highest
 *  first; returns how many. @scratch holds n ls_det. */
int ls_detect_yolov8(const float *t, int ncls, int n, const struct ls_letterbox *lb, float thresh, float iou,
		     const uint8_t *want, struct ls_det *scratch, struct ls_det *out, int max);

/** Intersection over union of two boxes (0 when either is empty). */
/** Text lines from a DB (differentiable binarisation) probability map of
 *  gh x gw (PP-OCR's text detector): pixels above 0.3 form connected regions;
 *  a region whose mean probability is at least @thresh becomes a text line
 *  (class 0): the minimum-area rotated rectangle around the region, grown
 *  on every side by DB's unclip distance (its area x 1.5 / its perimeter)
 *  and mapped to frame pixels through @lb, in quad; x1..y2 bound it.
 *  Regions narrower than 3 cells are dropped. Returns the number written
 *  (<= max), or < 0. */
int ls_detect_dbnet(const float *prob, int gh, int gw, const struct ls_letterbox *lb, float thresh, struct ls_det *out,
		    int max);

float ls_det_iou(const struct ls_det *a, const struct ls_det *b);

/** Greedy non-maximum suppression within each class: sorts @d (n boxes) by
 *  score, highest first, and drops a box whose IoU with a kept box of the
 *  same class is > @iou. Returns the number kept (at the front of @d). */
int ls_det_nms(struct ls_det *d, int n, float iou);

/** Draws the outline of box @b (frame pixels of a @fw x @fh frame) into a
 *  region of an I420 picture: the frame is shown at (@rx, @ry) scaled to
 *  @rw x @rh (as ls_mosaic letterboxes it: the caller passes the picture
 *  area). @thick pixels wide, luma @y and chroma @u/@v. @yp/@up/@vp are the
 *  picture's planes with strides @ys and @cs; @pw x @ph its size. Clipped
 *  to the region. */
void ls_det_draw_box(uint8_t *yp, uint8_t *up, uint8_t *vp, int ys, int cs, int pw, int ph, int rx, int ry, int rw,
		     int rh, int fw, int fh, const struct ls_det *b, int thick, uint8_t y, uint8_t u, uint8_t v);

#endif
