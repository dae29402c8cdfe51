#include <errno.h>
/* lib/ls_detect: letterbox, preprocessing, CenterNet/YOLOv8 decoding, NMS
 * and box drawing, without ONNX Runtime (tests/detect.py runs the models). */
#include <glib.h>
#include <math.h>
#include <string.h>

#include "ls_detect.h"

static void test_coco(void)
{
	g_assert_cmpstr(ls_coco_name(0), ==, "person");
	g_assert_cmpstr(ls_coco_name(2), ==, "car");
	g_assert_cmpstr(ls_coco_name(79), ==, "toothbrush");
	g_assert_null(ls_coco_name(80));
	g_assert_null(ls_coco_name(-1));
	g_assert_cmpint(ls_coco_index("bus"), ==, 5);
	g_assert_cmpint(ls_coco_index("Bus"), ==, -1);
	g_assert_cmpint(ls_coco_index(NULL), ==, -1);
}

static void test_letterbox(void)
{
	struct ls_letterbox lb = ls_letterbox_make(768, 576, 512, 512);
	g_assert_cmpfloat_with_epsilon(lb.scale, 512.0 / 768, 1e-6);
	g_assert_cmpfloat(lb.pad_x, ==, 0);
	g_assert_cmpfloat(lb.pad_y, ==, 64);
	lb = ls_letterbox_make(100, 200, 64, 64);
	g_assert_cmpfloat(lb.scale, ==, 0.32f);
	g_assert_cmpfloat(lb.pad_x, ==, 16);
}

/* A uniform I420 frame of w x h with the given Y, U, V. */
static struct ls_frame *i420(int w, int h, uint8_t y, uint8_t u, uint8_t v, uint8_t **buf)
{
	static struct ls_frame f;
	size_t ys = (size_t)w * h, cs = (size_t)((w + 1) / 2) * ((h + 1) / 2);
	*buf = g_malloc(ys + 2 * cs);
	memset(*buf, y, ys);
	memset(*buf + ys, u, cs);
	memset(*buf + ys + cs, v, cs);
	memset(&f, 0, sizeof f);
	g_assert_cmpint(ls_frame_set_packed(&f, LS_FMT_I420, w, h, *buf), ==, 0);
	return &f;
}

static void test_preprocess(void)
{
	uint8_t *buf;
	float *dst = g_new(float, 3 * 32 * 32);
	struct ls_frame *f = i420(64, 32, 235, 128, 128, &buf); /* white */
	struct ls_letterbox lb = ls_letterbox_make(64, 32, 32, 32);
	g_assert_cmpint(ls_detect_preprocess(f, &lb, dst, 1.0f / 255, 114), ==, 0);
	/* rows 0..7 and 24..31 are bars, 8..23 the picture */
	for (int c = 0; c < 3; c++) {
		g_assert_cmpfloat_with_epsilon(dst[c * 1024 + 0], 114.0 / 255, 1e-6);
		g_assert_cmpfloat_with_epsilon(dst[c * 1024 + 31 * 32 + 31], 114.0 / 255, 1e-6);
		g_assert_cmpfloat_with_epsilon(dst[c * 1024 + 8 * 32], 1.0, 2e-3);
		g_assert_cmpfloat_with_epsilon(dst[c * 1024 + 23 * 32 + 31], 1.0, 2e-3);
	}
	g_free(buf);
	/* saturated red in BT.601 limited range: Y 81, U 90, V 240 */
	f = i420(32, 32, 81, 90, 240, &buf);
	lb = ls_letterbox_make(32, 32, 32, 32);
	g_assert_cmpint(ls_detect_preprocess(f, &lb, dst, 1, 0), ==, 0);
	g_assert_cmpfloat(dst[0], >, 250);
	g_assert_cmpfloat(dst[1024], <, 5);
	g_assert_cmpfloat(dst[2048], <, 5);
	/* an unknown format is refused and nothing is written */
	f->format = LS_FMT_UNKNOWN;
	dst[0] = -1;
	g_assert_cmpint(ls_detect_preprocess(f, &lb, dst, 1, 0), ==, -EINVAL);
	g_assert_cmpfloat(dst[0], ==, -1);
	g_free(buf);
	g_free(dst);
}

static void test_centernet(void)
{
	enum { C = 3, H = 16, W = 16 };
	float *heat = g_new0(float, C *H *W), *wh = g_new0(float, 4 * H * W);
	/* class 0 at cell (x 5, y 4), class 2 at (x 10, y 12); stride 64 / 16 = 4 */
	heat[0 * H * W + 4 * W + 5] = 0.9f;
	heat[2 * H * W + 12 * W + 10] = 0.5f;
	heat[1 * H * W + 0] = 0.1f; /* under the threshold */
	float d[4] = { 4, 6, 8, 2 };
	for (int k = 0; k < 4; k++) {
		wh[k * H * W + 4 * W + 5] = d[k];
		wh[k * H * W + 12 * W + 10] = 2;
	}
	/* a 128 x 64 frame in the 64 x 64 input: scale 0.5, 16 rows of bars */
	struct ls_letterbox lb = ls_letterbox_make(128, 64, 64, 64);
	struct ls_det out[4];
	int n = ls_detect_centernet(heat, wh, C, H, W, &lb, 0.3f, NULL, out, 4);
	g_assert_cmpint(n, ==, 2);
	g_assert_cmpint(out[0].cls, ==, 0);
	g_assert_cmpfloat(out[0].score, ==, 0.9f);
	/* model box (20-4, 16-6, 20+8, 16+2) = (16, 10, 28, 18) -> frame (32, 0 clipped, 56, 4) */
	g_assert_cmpfloat(out[0].x1, ==, 32);
	g_assert_cmpfloat(out[0].y1, ==, 0);
	g_assert_cmpfloat(out[0].x2, ==, 56);
	g_assert_cmpfloat(out[0].y2, ==, 4);
	g_assert_cmpint(out[1].cls, ==, 2);
	/* the class filter, and max */
	uint8_t want[1] = { 1u << 2 };
	n = ls_detect_centernet(heat, wh, C, H, W, &lb, 0.3f, want, out, 4);
	g_assert_cmpint(n, ==, 1);
	g_assert_cmpint(out[0].cls, ==, 2);
	n = ls_detect_centernet(heat, wh, C, H, W, &lb, 0.3f, NULL, out, 1);
	g_assert_cmpint(n, ==, 1);
	g_assert_cmpfloat(out[0].score, ==, 0.9f); /* the best one is kept */
	g_free(heat);
	g_free(wh);
}

static void test_nms(void)
{
	struct ls_det d[4] = {
		{ 0, 0, 10, 10, 0.5f, 0 },
		{ 1, 1, 11, 11, 0.9f, 0 },   /* IoU with the first 0.68: one of them goes */
		{ 1, 1, 11, 11, 0.7f, 1 },   /* another class: stays */
		{ 20, 20, 30, 30, 0.3f, 0 }, /* apart: stays */
	};
	g_assert_cmpfloat_with_epsilon(ls_det_iou(&d[0], &d[1]), 81.0 / 119, 1e-6);
	int n = ls_det_nms(d, 4, 0.5f);
	g_assert_cmpint(n, ==, 3);
	g_assert_cmpfloat(d[0].score, ==, 0.9f);
	g_assert_cmpfloat(d[1].score, ==, 0.7f);
	g_assert_cmpfloat(d[2].score, ==, 0.3f);
}

static void test_yolov8(void)
{
	enum { NC = 2, N = 3 };
	/* [4 + NC, N]: column i is one candidate */
	/* clang-format off */
	float t[(4 + NC) * N] = {
		/* cx */ 10, 11, 30,
		/* cy */ 10, 10, 30,
		/* w  */ 8, 8, 4,
		/* h  */ 8, 8, 4,
		/* c0 */ 0.8f, 0.6f, 0.1f,
		/* c1 */ 0.1f, 0.2f, 0.4f,
	};
	/* clang-format on */
	struct ls_letterbox lb = ls_letterbox_make(40, 40, 40, 40);
	struct ls_det scratch[N], out[N];
	int n = ls_detect_yolov8(t, NC, N, &lb, 0.3f, 0.5f, NULL, scratch, out, N);
	g_assert_cmpint(n, ==, 2);
	g_assert_cmpint(out[0].cls, ==, 0);
	g_assert_cmpfloat(out[0].x1, ==, 6);
	g_assert_cmpfloat(out[0].y2, ==, 14);
	g_assert_cmpint(out[1].cls, ==, 1);
	g_assert_cmpfloat(out[1].score, ==, 0.4f);
}

/* Two text blobs in a DB probability map, one faint region below the box
 * threshold and noise below the pixel threshold: two boxes, grown by the
 * unclip distance and mapped back through the letterbox. */
static void test_dbnet(void)
{
	int gw = 64, gh = 32;
	float *p = g_new0(float, (size_t)gw *gh);
	for (int y = 4; y < 8; y++)
		for (int x = 10; x < 30; x++)
			p[y * gw + x] = 0.9f;
	for (int y = 20; y < 24; y++)
		for (int x = 40; x < 60; x++)
			p[y * gw + x] = 0.8f;
	for (int y = 14; y < 17; y++)
		for (int x = 2; x < 8; x++)
			p[y * gw + x] = 0.35f; /* a region, but unsure */
	p[30 * gw + 5] = 0.2f;                 /* noise */
	/* the map covers a 128 x 64 frame at scale 0.5, no padding */
	struct ls_letterbox lb = ls_letterbox_make(128, 64, 64, 32);
	struct ls_det d[8];
	int n = ls_detect_dbnet(p, gh, gw, &lb, 0.6f, d, 8);
	g_assert_cmpint(n, ==, 2);
	/* 20 x 4 cells: unclip 20*4*1.5/(2*24) = 2.5 cells = 5 px */
	g_assert_cmpfloat_with_epsilon(d[0].x1, 20 - 5, 0.01);
	g_assert_cmpfloat_with_epsilon(d[0].y1, 8 - 5, 0.01);
	g_assert_cmpfloat_with_epsilon(d[0].x2, 60 + 5, 0.01);
	g_assert_cmpfloat_with_epsilon(d[0].y2, 16 + 5, 0.01);
	g_assert_cmpint(d[0].cls, ==, 0);
	g_assert_cmpfloat_with_epsilon(d[1].x1, 80 - 5, 0.01);
	g_assert_cmpfloat(d[1].score, >, 0.79f);
	g_assert_cmpint(ls_detect_dbnet(p, gh, gw, &lb, 0.3f, d, 8), ==, 3); /* the unsure one too */
	g_assert_cmpint(ls_detect_dbnet(p, gh, gw, &lb, 0.6f, d, 1), ==, 1);
	g_assert_cmpint(ls_detect_dbnet(NULL, gh, gw, &lb, 0.6f, d, 8), ==, -EINVAL);
	/* an axis-aligned line's quad is its box, clockwise from the top-left */
	n = ls_detect_dbnet(p, gh, gw, &lb, 0.6f, d, 8);
	g_assert_true(d[0].has_quad);
	float want[8] = { 15, 3, 65, 3, 65, 21, 15, 21 };
	for (int k = 0; k < 8; k++)
		g_assert_cmpfloat_with_epsilon(d[0].quad[k], want[k], 0.01);
	g_free(p);
}

/* A text line tilted by 30 degrees (60 x 6 cells): the rotated rectangle
 * follows it, grown by the unclip distance of the line itself (about 5
 * cells), where the unclip distance of a box around the region (about
 * 55 x 35 cells) would have been 16. */
static void test_dbnet_rotated(void)
{
	int gw = 128, gh = 96;
	float *p = g_new0(float, (size_t)gw *gh);
	double th = 30 * G_PI / 180, ux = cos(th), uy = sin(th), cx = 64, cy = 48;
	for (int y = 0; y < gh; y++)
		for (int x = 0; x < gw; x++) {
			double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
			if (fabs(dx * ux + dy * uy) <= 30 && fabs(-dx * uy + dy * ux) <= 3)
				p[y * gw + x] = 0.9f;
		}
	struct ls_letterbox lb = ls_letterbox_make(gw, gh, gw, gh); /* scale 1 */
	struct ls_det d[4];
	g_assert_cmpint(ls_detect_dbnet(p, gh, gw, &lb, 0.6f, d, 4), ==, 1);
	g_assert_true(d[0].has_quad);
	const float *q = d[0].quad;
	double side0 = hypot(q[2] - q[0], q[3] - q[1]), side1 = hypot(q[4] - q[2], q[5] - q[3]);
	double along = fmax(side0, side1), across = fmin(side0, side1);
	/* the region is whole cells: the cells whose centres lie on the line
	 * reach |cos| + |sin| = 1.37 cells further along each axis */
	double ext = fabs(ux) + fabs(uy), la = 60 + ext, lb2 = 6 + ext;
	double grow = la * lb2 * 1.5 / (2 * (la + lb2));
	g_assert_cmpfloat_with_epsilon(along, la + 2 * grow, 1.0);
	g_assert_cmpfloat_with_epsilon(across, lb2 + 2 * grow, 1.0);
	/* its long side at 30 degrees */
	double ax = side0 > side1 ? q[2] - q[0] : q[4] - q[2], ay = side0 > side1 ? q[3] - q[1] : q[5] - q[3];
	double ang = atan2(ay, ax) * 180 / G_PI;
	ang = ang < 0 ? ang + 180 : ang;
	g_assert_cmpfloat_with_epsilon(ang, 30, 3);
	/* centred on the line, and the box bounds the quad */
	g_assert_cmpfloat_with_epsilon((q[0] + q[4]) / 2, cx, 1.5);
	g_assert_cmpfloat_with_epsilon((q[1] + q[5]) / 2, cy, 1.5);
	for (int k = 0; k < 4; k++) {
		g_assert_cmpfloat(q[2 * k], >=, d[0].x1 - 0.01);
		g_assert_cmpfloat(q[2 * k], <=, d[0].x2 + 0.01);
		g_assert_cmpfloat(q[2 * k + 1], >=, d[0].y1 - 0.01);
		g_assert_cmpfloat(q[2 * k + 1], <=, d[0].y2 + 0.01);
	}
	/* clockwise on screen (y down): positive shoelace sum */
	double area2 = 0;
	for (int k = 0; k < 4; k++)
		area2 += q[2 * k] * q[(2 * k + 3) % 8] - q[(2 * k + 2) % 8] * q[2 * k + 1];
	g_assert_cmpfloat(area2, >, 0);
	g_free(p);
}

static void test_draw_box(void)
{
	enum { W = 64, H = 32 };
	uint8_t y[W * H], u[W * H / 4], v[W * H / 4];
	memset(y, 0, sizeof y);
	memset(u, 128, sizeof u);
	memset(v, 128, sizeof v);
	/* a 128 x 64 frame shown at (16, 8) scaled to 32 x 16 (x 1/4): box
	 * (32, 16)-(96, 48) -> (24, 12)-(40, 20) */
	struct ls_det b = { 32, 16, 96, 48, 1, 0 };
	ls_det_draw_box(y, u, v, W, W / 2, W, H, 16, 8, 32, 16, 128, 64, &b, 1, 200, 10, 20);
	g_assert_cmpint(y[12 * W + 30], ==, 200); /* top edge */
	g_assert_cmpint(y[19 * W + 30], ==, 200); /* bottom edge */
	g_assert_cmpint(y[15 * W + 24], ==, 200); /* left edge */
	g_assert_cmpint(y[15 * W + 39], ==, 200); /* right edge */
	g_assert_cmpint(y[15 * W + 30], ==, 0);   /* inside: untouched */
	g_assert_cmpint(y[11 * W + 30], ==, 0);   /* outside */
	g_assert_cmpint(y[15 * W + 40], ==, 0);
	g_assert_cmpint(u[6 * (W / 2) + 15], ==, 10);
	/* a box beyond the region is clipped to it, never written outside */
	struct ls_det far = { -50, -50, 500, 500, 1, 0 };
	memset(y, 0, sizeof y);
	ls_det_draw_box(y, u, v, W, W / 2, W, H, 16, 8, 32, 16, 128, 64, &far, 1, 200, 10, 20);
	for (int r = 0; r < H; r++)
		for (int c = 0; c < W; c++)
			if (r < 8 || r >= 24 || c < 16 || c >= 48)
				g_assert_cmpint(y[r * W + c], ==, 0);
	g_assert_cmpint(y[8 * W + 30], ==, 200);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/detect/coco", test_coco);
	g_test_add_func("/detect/dbnet", test_dbnet);
	g_test_add_func("/detect/dbnet-rotated", test_dbnet_rotated);
	g_test_add_func("/detect/letterbox", test_letterbox);
	g_test_add_func("/detect/preprocess", test_preprocess);
	g_test_add_func("/detect/centernet", test_centernet);
	g_test_add_func("/detect/nms", test_nms);
	g_test_add_func("/detect/yolov8", test_yolov8);
	g_test_add_func("/detect/draw-box", test_draw_box);
	return g_test_run();
}
