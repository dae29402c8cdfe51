/* Motion detector (lib/ls_motion.c): a synthetic textured scene with sensor
 * noise, flicker, foliage and camera shake must show no motion; objects
 * walking through it, bright or dark, small or large, must; and on real
 * footage (opencv-doc's vtest.avi, pedestrians) motion is found where the
 * pixels change, while a still frame of it with noise shows none. */
#include <glib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ls_motion.h"

#define FRAME_NS INT64_C(33333333)
#define W 640
#define H 360
#define PAD 8 /* the scene is rendered larger than the frame, for the shake */

static uint64_t rng_state;
static double rnd(void)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(rng_state >> 11) / 9007199254740992.0;
}
static double gauss(void)
{
	double u = rnd() + 1e-12, v = rnd();
	return sqrt(-2 * log(u)) * cos(2 * G_PI * v);
}

struct scene {
	float tex[(H + 2 * PAD) * (W + 2 * PAD)]; /* the still scene, padded */
	float leaves[128 * 128];                  /* the foliage texture */
	int8_t noise[2 * W * H];                  /* sensor noise bank */
	uint8_t frame[W * H];
	/* what moves this frame */
	double noise_sd, flicker, shake_px;
	bool foliage;
	int obj_x, obj_y, obj_w, obj_h, obj_level; /* obj_w 0: none */
};

#define TEX(s, x, y) (s)->tex[(y) * (W + 2 * PAD) + (x)]

/* A textured still scene: a gradient, rectangles of many greys with sharp
 * edges (walls, windows, signs), and a fixed fine-grained texture. */
static void scene_init(struct scene *s, uint64_t seed)
{
	rng_state = seed;
	const int tw = W + 2 * PAD, th = H + 2 * PAD;
	for (int y = 0; y < th; y++)
		for (int x = 0; x < tw; x++)
			TEX(s, x, y) = (float)(60 + 80.0 * x / tw + 40.0 * y / th + 12 * gauss());
	for (int r = 0; r < 40; r++) {
		int rw = 10 + (int)(rnd() * 120), rh = 10 + (int)(rnd() * 90);
		int rx = (int)(rnd() * (tw - rw)), ry = (int)(rnd() * (th - rh));
		float v = (float)(20 + rnd() * 215);
		for (int y = ry; y < ry + rh; y++)
			for (int x = rx; x < rx + rw; x++)
				TEX(s, x, y) = v + (float)(6 * gauss());
	}
	for (int i = 0; i < 128 * 128; i++)
		s->leaves[i] = 0;
	for (int b = 0; b < 120; b++) { /* leaves: bright and dark blobs */
		int cx = (int)(rnd() * 128), cy = (int)(rnd() * 128), r = 3 + (int)(rnd() * 6);
		float v = (float)(rnd() < 0.5 ? -70 : 70);
		for (int y = -r; y <= r; y++)
			for (int x = -r; x <= r; x++)
				if (x * x + y * y <= r * r)
					s->leaves[((cy + y) & 127) * 128 + ((cx + x) & 127)] = v;
	}
	for (size_t i = 0; i < sizeof s->noise; i++) {
		double g = gauss() * 16; /* scaled by noise_sd / 16 when used */
		s->noise[i] = (int8_t)(g > 127 ? 127 : g < -127 ? -127 : g);
	}
	s->noise_sd = 6;
	s->flicker = 0;
	s->shake_px = 0;
	s->foliage = false;
	s->obj_w = 0;
}

/* the foliage: a 160 x 120 region whose leaves sway a few pixels, each part
 * on its own phase, with a random gust added every frame */
#define FOL_X 420
#define FOL_Y 40
#define FOL_W 160
#define FOL_H 120

/* Renders frame @f: the scene shifted by the shake (bilinear, sub-pixel),
 * the foliage, the object, the gain, then the noise. */
static void render(struct scene *s, int f)
{
	double dx = 0, dy = 0;
	if (s->shake_px > 0) {
		dx = (rnd() * 2 - 1) * s->shake_px;
		dy = (rnd() * 2 - 1) * s->shake_px;
	}
	/* flicker: +-10% at a rate that sweeps from slow to fast (mains
	 * beating against the frame rate, clouds, auto-exposure hunting) */
	double g = 1 + s->flicker * sin(2 * G_PI * (0.02 * f + 0.0015 * f * f));
	int ix = (int)floor(dx), iy = (int)floor(dy);
	float fx = (float)(dx - ix), fy = (float)(dy - iy);
	float w00 = (1 - fx) * (1 - fy), w10 = fx * (1 - fy), w01 = (1 - fx) * fy, w11 = fx * fy;
	double gust_x = gauss() * 1.0, gust_y = gauss() * 1.0;
	const int8_t *nz = s->noise + (size_t)(rnd() * W * H);
	float nscale = (float)(s->noise_sd / 16.0);
	for (int y = 0; y < H; y++) {
		for (int x = 0; x < W; x++) {
			int sx = x + PAD + ix, sy = y + PAD + iy;
			float v = w00 * TEX(s, sx, sy) + w10 * TEX(s, sx + 1, sy) + w01 * TEX(s, sx, sy + 1) +
				  w11 * TEX(s, sx + 1, sy + 1);
			if (s->foliage && x >= FOL_X && x < FOL_X + FOL_W && y >= FOL_Y && y < FOL_Y + FOL_H) {
				double ox = 3 * sin(0.7 * f + 0.05 * y) + gust_x,
				       oy = 2 * sin(0.9 * f + 0.07 * x) + gust_y;
				int lx = (x + (int)lround(ox)) & 127, ly = (y + (int)lround(oy)) & 127;
				v = 110 + s->leaves[ly * 128 + lx];
			}
			if (s->obj_w && x >= s->obj_x && x < s->obj_x + s->obj_w && y >= s->obj_y &&
			    y < s->obj_y + s->obj_h)
				v = (float)s->obj_level + (((x >> 2) ^ (y >> 3)) & 1) * 12; /* clothes */
			v = (float)(v * g) + nscale * nz[y * W + x];
			s->frame[y * W + x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lrintf(v));
		}
	}
}

static int feed(struct ls_motion *m, struct scene *s, int f, struct ls_motion_result *r)
{
	render(s, f);
	return ls_motion_feed(m, s->frame, W, H, W, (int64_t)f * FRAME_NS, r);
}

static bool box_overlaps(const struct ls_motion_box *b, int x, int y, int w, int h)
{
	return b->x < x + w && x < b->x + b->w && b->y < y + h && y < b->y + b->h;
}

/* Frames with raw motion over @frames frames of @s, with @p (NULL: the
 * defaults); the gate must stay closed when @quiet. */
static int count_raw(struct scene *s, int frames, const struct ls_motion_params *p, bool quiet, const char *what)
{
	struct ls_motion *m = ls_motion_new(p);
	struct ls_motion_result r;
	int raw = 0, maxb = 0;
	for (int f = 0; f < frames; f++) {
		g_assert_cmpint(feed(m, s, f, &r), ==, 0);
		if (quiet)
			g_assert_false(r.motion);
		raw += r.raw;
		maxb = r.moving_blocks > maxb ? r.moving_blocks : maxb;
	}
	g_test_message("%s: %d of %d frames with raw motion, at most %d blocks", what, raw, frames, maxb);
	ls_motion_free(&m);
	g_assert_null(m);
	return raw;
}

static int n_frames(int full)
{
	/* fewer frames under valgrind (set by tests/meson.build) */
	return g_getenv("LS_TEST_SHORT") ? full / 3 : full;
}

/* The nuisances, each on its own, then all together: never any motion. And
 * controls, that show each nuisance is real: with the defence against it
 * turned off (the threshold pinned to a low floor, k ~ 0 for no learned
 * variance, no shake band) the same frames do show motion. The flicker's
 * control is test_gain: the gain divided out swings by +-10%, 13 grey
 * levels on a mid-grey scene, over twice the floor. */
static void test_quiet(void)
{
	struct scene *s = g_new0(struct scene, 1);
	scene_init(s, 1);
	const struct ls_motion_params no_floor = { .k = 1, .floor = 1, .shake_px = -1 }, no_var = { .k = 0.01f },
				      no_var_shake = { .k = 0.01f, .shake_px = -1 };
	g_assert_cmpint(count_raw(s, n_frames(150), NULL, true, "noise"), ==, 0);
	g_assert_cmpint(count_raw(s, n_frames(150), &no_floor, false, "noise, control: floor 1, k 1, no band"), >, 0);
	s->flicker = 0.10;
	g_assert_cmpint(count_raw(s, n_frames(300), NULL, true, "noise+flicker"), ==, 0);
	s->flicker = 0;
	s->foliage = true;
	g_assert_cmpint(count_raw(s, n_frames(300), NULL, true, "noise+foliage"), ==, 0);
	g_assert_cmpint(count_raw(s, n_frames(150), &no_var, false, "noise+foliage, control: k 0.01"), >, 0);
	s->foliage = false;
	s->shake_px = 2;
	g_assert_cmpint(count_raw(s, n_frames(300), NULL, true, "noise+shake"), ==, 0);
	g_assert_cmpint(count_raw(s, n_frames(150), &no_var_shake, false, "noise+shake, control: k 0.01, no band"), >,
			0);
	s->flicker = 0.10;
	s->foliage = true;
	s->noise_sd = 8;
	g_assert_cmpint(count_raw(s, n_frames(300), NULL, true, "all"), ==, 0);
	g_free(s);
}

/* Shake that starts after the background was learned still (a truck
 * passing the pole): the shake band, not the variance, absorbs it. */
static int sudden_shake(const struct ls_motion_params *p, bool quiet)
{
	struct scene *s = g_new0(struct scene, 1);
	scene_init(s, 2);
	struct ls_motion *m = ls_motion_new(p);
	struct ls_motion_result r;
	int raw = 0, frames = n_frames(150);
	for (int f = 0; f < frames; f++) {
		s->shake_px = f >= 40 ? 1.5 : 0;
		g_assert_cmpint(feed(m, s, f, &r), ==, 0);
		if (quiet)
			g_assert_false(r.motion);
		raw += r.raw;
	}
	ls_motion_free(&m);
	g_free(s);
	return raw;
}

static void test_sudden_shake(void)
{
	g_assert_cmpint(sudden_shake(NULL, true), ==, 0);
	/* control: without the band, the shake is motion */
	g_assert_cmpint(sudden_shake(&(struct ls_motion_params){ .shake_px = -1 }, false), >, 0);
}

/* An object walks across the scene with every nuisance on: the gate opens
 * within a few frames of its entry, with a box on it, and closes after it
 * has left. */
static void walk(int ow, int oh, int level, int speed, uint64_t seed)
{
	struct scene *s = g_new0(struct scene, 1);
	scene_init(s, seed);
	s->flicker = 0.10;
	s->foliage = true;
	s->shake_px = 1.5;
	struct ls_motion *m = ls_motion_new(NULL);
	struct ls_motion_result r;
	int f = 0, learn = n_frames(90);
	for (; f < learn; f++) {
		g_assert_cmpint(feed(m, s, f, &r), ==, 0);
		g_assert_false(r.motion);
	}
	/* enters from the left, crossing the frame below the foliage */
	int start = f, opened = -1, on_box = 0, walking = 0;
	s->obj_w = ow;
	s->obj_h = oh;
	s->obj_level = level;
	s->obj_y = 330 - oh;
	for (int x = -ow; x < W; x += speed, f++) {
		s->obj_x = x;
		g_assert_cmpint(feed(m, s, f, &r), ==, 0);
		if (r.motion && opened < 0) {
			opened = f - start;
			g_assert_cmpint(r.changed_ns, ==, (int64_t)f * FRAME_NS);
		}
		if (x < 0)
			continue; /* partly out of the frame */
		walking++;
		for (int b = 0; b < r.nboxes; b++)
			if (box_overlaps(&r.boxes[b], s->obj_x, s->obj_y, ow, oh)) {
				on_box++;
				break;
			}
		if (r.motion) {
			/* the boxes are on the object, not all over the frame */
			g_assert_cmpfloat(r.score, <, 3.0f * (float)(ow * oh) / (W * H) + 0.02f);
		}
	}
	g_test_message("object %dx%d level %d: gate open after %d frames, on it in %d of %d frames", ow, oh, level,
		       opened, on_box, walking);
	g_assert_cmpint(opened, >=, 0);
	/* within 3 frames of a quarter of it being in view */
	g_assert_cmpint(opened, <=, (3 * ow / 4 + speed - 1) / speed + 3);
	g_assert_cmpint(on_box, >=, walking * 9 / 10);
	/* gone: the gate closes after off_frames, and stays closed */
	s->obj_w = 0;
	int closed = -1;
	for (int i = 0; i < 40; i++, f++) {
		g_assert_cmpint(feed(m, s, f, &r), ==, 0);
		if (!r.motion && closed < 0) {
			closed = i;
			g_assert_cmpint(r.changed_ns, ==, (int64_t)f * FRAME_NS);
		}
		if (closed >= 0)
			g_assert_false(r.motion);
	}
	g_assert_cmpint(closed, >=, 14); /* off_frames = 15 quiet frames, this one included */
	g_assert_cmpint(closed, <=, 20);
	ls_motion_free(&m);
	g_free(s);
}

static void test_walk_small_bright(void) { walk(48, 96, 235, 6, 3); /* 2% of the frame */ }
static void test_walk_small_dark(void) { walk(48, 96, 15, 6, 4); }
static void test_walk_large(void) { walk(200, 160, 180, 8, 5); }

/* gain follows the flicker; the result's fields are consistent */
static void test_gain_and_fields(void)
{
	struct scene *s = g_new0(struct scene, 1);
	scene_init(s, 6);
	struct ls_motion *m = ls_motion_new(NULL);
	struct ls_motion_result r;
	for (int f = 0; f < 20; f++) {
		g_assert_cmpint(feed(m, s, f, &r), ==, 0);
		g_assert_true(r.learning == (f < 10));
	}
	s->flicker = 0.1;
	for (int f = 20; f < 60; f++) {
		g_assert_cmpint(feed(m, s, f, &r), ==, 0);
		double want = 1 + 0.1 * sin(2 * G_PI * (0.02 * f + 0.0015 * f * f));
		g_assert_cmpfloat(fabs(r.gain - want), <, 0.01);
	}
	ls_motion_free(&m);
	g_free(s);
}

static void test_errors(void)
{
	errno = 0;
	g_assert_null(ls_motion_new(&(struct ls_motion_params){ .block = 3 }));
	g_assert_cmpint(errno, ==, EINVAL);
	g_assert_null(ls_motion_new(&(struct ls_motion_params){ .alpha = 2 }));
	g_assert_null(ls_motion_new(&(struct ls_motion_params){ .k = -1 }));
	struct ls_motion *m = ls_motion_new(&(struct ls_motion_params){ .block = 8, .shake_px = -1 });
	struct ls_motion_params p;
	ls_motion_get_params(m, &p);
	g_assert_cmpint(p.block, ==, 8);
	g_assert_cmpfloat(p.shake_px, ==, 0);
	g_assert_cmpint(p.off_frames, ==, 15);
	uint8_t img[100 * 50];
	memset(img, 100, sizeof img);
	struct ls_motion_result r;
	g_assert_cmpint(ls_motion_feed(m, NULL, 100, 50, 100, 0, &r), ==, -EINVAL);
	g_assert_cmpint(ls_motion_feed(m, img, 100, 50, 99, 0, &r), ==, -EINVAL);
	g_assert_cmpint(ls_motion_feed(m, img, 0, 50, 100, 0, &r), ==, -EINVAL);
	g_assert_cmpint(ls_motion_feed(m, img, 100, 50, 100, 1000, &r), ==, 0);
	g_assert_true(r.learning);
	g_assert_cmpint(ls_motion_feed(m, img, 100, 50, 100, 999, &r), ==, -EINVAL); /* time went back */
	/* odd sizes (partial blocks) and a size change */
	for (int f = 0; f < 30; f++) {
		g_assert_cmpint(ls_motion_feed(m, img, 100 - f % 2, 50, 100, 2000 + f, &r), ==, 0);
		g_assert_true(r.learning); /* every size change starts over */
	}
	for (int f = 0; f < 30; f++)
		g_assert_cmpint(ls_motion_feed(m, img, 99, 50, 100, 3000 + f, &r), ==, 0);
	g_assert_false(r.learning);
	g_assert_false(r.raw);
	/* a bright square in the last, partial column of blocks */
	for (int y = 20; y < 40; y++)
		for (int x = 84; x < 99; x++)
			img[y * 100 + x] = 250;
	g_assert_cmpint(ls_motion_feed(m, img, 99, 50, 100, 4000, &r), ==, 0);
	g_assert_true(r.raw);
	g_assert_cmpint(r.nboxes, ==, 1);
	g_assert_cmpint(r.boxes[0].x + r.boxes[0].w, ==, 99);
	g_assert_cmpint(r.boxes[0].y, ==, 16);
	g_assert_cmpint(r.boxes[0].h, ==, 24);
	ls_motion_reset(m);
	g_assert_cmpint(ls_motion_feed(m, img, 99, 50, 100, 4001, &r), ==, 0);
	g_assert_true(r.learning);
	ls_motion_free(&m);
	ls_motion_free(&m);
}

/* --- real footage ------------------------------------------------------------- */

#define VTEST "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
#define VW 768
#define VH 576

/* Reads up to @max gray frames of vtest.avi through ffmpeg; NULL (test
 * skipped) when the file or ffmpeg is missing. */
static uint8_t *read_vtest(int max, int *got)
{
	*got = 0;
	char *ff = g_find_program_in_path("ffmpeg");
	bool have = ff && g_file_test(VTEST, G_FILE_TEST_EXISTS);
	g_free(ff);
	if (!have)
		return NULL;
	char cmd[512];
	snprintf(cmd, sizeof cmd, "ffmpeg -v error -nostdin -i %s -frames:v %d -f rawvideo -pix_fmt gray -", VTEST,
		 max);
	FILE *p = popen(cmd, "r");
	if (!p)
		return NULL;
	size_t fs = (size_t)VW * VH;
	uint8_t *buf = g_malloc(fs * (size_t)max);
	while (*got < max && fread(buf + fs * (size_t)*got, 1, fs, p) == fs)
		(*got)++;
	pclose(p);
	return buf;
}

static void test_vtest_people(void)
{
	int n, want = n_frames(240);
	uint8_t *v = read_vtest(want, &n);
	if (!v) {
		g_test_skip(VTEST " or ffmpeg missing (scripts/setup.sh installs opencv-doc)");
		return;
	}
	g_assert_cmpint(n, ==, want);
	struct ls_motion *m = ls_motion_new(NULL);
	struct ls_motion_result r;
	int open = 0, judged = 0;
	double in_sum = 0, out_sum = 0;
	const size_t fs = (size_t)VW * VH;
	static uint8_t inbox[VW * VH];
	for (int f = 0; f < n; f++) {
		const uint8_t *cur = v + fs * (size_t)f;
		g_assert_cmpint(ls_motion_feed(m, cur, VW, VH, VW, (int64_t)f * 100000000, &r), ==, 0);
		if (r.learning)
			continue;
		judged++;
		open += r.motion;
		if (f < 3 || !r.raw)
			continue;
		/* where the boxes are, the picture changed over the last 3 frames;
		 * elsewhere, much less */
		memset(inbox, 0, sizeof inbox);
		for (int b = 0; b < r.nboxes; b++)
			for (int y = r.boxes[b].y; y < r.boxes[b].y + r.boxes[b].h; y++)
				memset(inbox + (size_t)y * VW + r.boxes[b].x, 1, (size_t)r.boxes[b].w);
		const uint8_t *old = cur - 3 * fs;
		double si = 0, so = 0;
		long ni = 0, no = 0;
		for (size_t i = 0; i < fs; i++) {
			int d = abs((int)cur[i] - (int)old[i]);
			if (inbox[i]) {
				si += d;
				ni++;
			} else {
				so += d;
				no++;
			}
		}
		if (ni && no) {
			in_sum += si / ni;
			out_sum += so / no;
		}
		g_assert_cmpfloat(r.score, <, 0.5f);
	}
	g_test_message(
		"vtest: gate open in %d of %d frames; mean |frame - 3 frames before| in boxes %.2f, outside %.2f", open,
		judged, in_sum / judged, out_sum / judged);
	/* people walk through the whole clip */
	g_assert_cmpint(open, >=, judged * 9 / 10);
	g_assert_cmpfloat(in_sum, >, 4 * out_sum);
	ls_motion_free(&m);
	g_free(v);
}

/* One frame of the clip, still, with sensor noise and flicker: no motion. */
static void test_vtest_still(void)
{
	int n;
	uint8_t *v = read_vtest(1, &n);
	if (!v) {
		g_test_skip(VTEST " or ffmpeg missing (scripts/setup.sh installs opencv-doc)");
		return;
	}
	struct ls_motion *m = ls_motion_new(NULL);
	struct ls_motion_result r;
	static uint8_t img[VW * VH];
	static int8_t noise[2 * VW * VH]; /* a bank of N(0, 5) noise, read at a random offset */
	rng_state = 11;
	for (size_t i = 0; i < sizeof noise; i++)
		noise[i] = (int8_t)lrint(5 * gauss());
	int raw = 0, frames = n_frames(150);
	for (int f = 0; f < frames; f++) {
		float g = (float)(1 + 0.08 * sin(0.3 * f));
		const int8_t *nz = noise + (size_t)(rnd() * VW * VH);
		for (size_t i = 0; i < sizeof img; i++) {
			float x = v[i] * g + nz[i];
			img[i] = (uint8_t)(x < 0 ? 0 : x > 255 ? 255 : lrintf(x));
		}
		g_assert_cmpint(ls_motion_feed(m, img, VW, VH, VW, (int64_t)f * 100000000, &r), ==, 0);
		g_assert_false(r.motion);
		raw += r.raw;
	}
	g_assert_cmpint(raw, ==, 0);
	ls_motion_free(&m);
	g_free(v);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/motion/quiet", test_quiet);
	g_test_add_func("/motion/sudden-shake", test_sudden_shake);
	g_test_add_func("/motion/walk-small-bright", test_walk_small_bright);
	g_test_add_func("/motion/walk-small-dark", test_walk_small_dark);
	g_test_add_func("/motion/walk-large", test_walk_large);
	g_test_add_func("/motion/gain", test_gain_and_fields);
	g_test_add_func("/motion/errors", test_errors);
	g_test_add_func("/motion/vtest-people", test_vtest_people);
	g_test_add_func("/motion/vtest-still", test_vtest_still);
	return g_test_run();
}
