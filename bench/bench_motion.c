/* Motion gating and tracking costs.
 *
 * 1. ls_motion_feed per 1080p and 720p luma frame (textured scene, sensor
 *    noise, a walking person): CPU time per frame, mean, p50 and p99.
 * 2. ls_tracker_update with 50 tracked objects (jittered detections, a few
 *    misses and false positives): CPU time per update.
 * 3. A mostly idle rig: 8 cameras at 1080p, 30 fps; camera 0 sees a person
 *    walk through 10% of the time, the others see only nuisances (noise on
 *    all, flicker, foliage-like texture, shake on some). Every frame goes
 *    through a real ls_motion detector; the object detector is modelled as a
 *    fixed cost DET_MS per frame it runs on (a parameter: plug in the ONNX
 *    Runtime figure measured by the detect stage's benchmark). Without
 *    gating it runs on every frame; with gating only where the gate is open,
 *    plus the motion detector's measured cost on every frame.
 *
 * usage: bench-motion [RIG_SECONDS (60)] [DET_MS (50)]
 *        bench-motion raw FILE WIDTH HEIGHT
 * The second form runs ls_motion over the gray frames of FILE (ffmpeg
 * -f rawvideo -pix_fmt gray), for bench/motion_peer.sh, which runs OpenCV's
 * MOG2 over the same file: CPU per frame and frames with motion. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ls_motion.h"
#include "ls_stats.h"
#include "ls_track.h"

static uint64_t rng_state = 12345;
static double rnd(void)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(rng_state >> 11) / 9007199254740992.0;
}
static double gauss(void)
{
	double u = rnd() + 1e-12, v = rnd();
	return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

static int64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#define PAD 4

/* A camera's still scene, padded by PAD pixels for the shake, with a bank of
 * sensor noise read at a random offset each frame. */
struct cam {
	int w, h, pw;   /* frame size; padded row length */
	uint8_t *bg;    /* (w + 2 PAD) x (h + 2 PAD) */
	int8_t *noise;  /* 2 w h */
	uint8_t *frame; /* w x h */
	double flicker; /* +-amplitude */
	int shake;      /* pixels */
	bool foliage;
};

static void cam_init(struct cam *c, int w, int h)
{
	c->w = w;
	c->h = h;
	c->pw = w + 2 * PAD;
	int ph = h + 2 * PAD;
	c->bg = malloc((size_t)c->pw * (size_t)ph);
	c->noise = malloc(2 * (size_t)w * (size_t)h);
	c->frame = malloc((size_t)w * (size_t)h);
	for (int y = 0; y < ph; y++)
		for (int x = 0; x < c->pw; x++) {
			double v = 50 + 100.0 * x / c->pw + 50.0 * y / ph + 10 * gauss();
			c->bg[(size_t)y * (size_t)c->pw + (size_t)x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
		}
	for (int r = 0; r < 60; r++) {
		int rw = 20 + (int)(rnd() * w / 8), rh = 20 + (int)(rnd() * h / 8);
		int rx = (int)(rnd() * (c->pw - rw)), ry = (int)(rnd() * (ph - rh));
		uint8_t v = (uint8_t)(20 + rnd() * 215);
		for (int y = ry; y < ry + rh; y++)
			memset(c->bg + (size_t)y * (size_t)c->pw + (size_t)rx, v, (size_t)rw);
	}
	for (size_t i = 0; i < 2 * (size_t)w * (size_t)h; i++)
		c->noise[i] = (int8_t)lrint(6 * gauss());
}

static void cam_free(struct cam *c)
{
	free(c->bg);
	free(c->noise);
	free(c->frame);
}

/* Frame @f: the shifted scene times the flicker gain, plus noise, plus a
 * person (a dark 1/10 x 1/5 frame box) at x = @person_x when >= 0. The
 * foliage is a region whose texture is redrawn at random every frame. */
static void cam_render(struct cam *c, int f, int person_x)
{
	int dx = c->shake ? (int)(rnd() * (2 * c->shake + 1)) - c->shake : 0;
	int dy = c->shake ? (int)(rnd() * (2 * c->shake + 1)) - c->shake : 0;
	float g = (float)(1 + c->flicker * sin(2 * M_PI * (0.03 * f + 0.0007 * f * f / 30)));
	const int8_t *nz = c->noise + (size_t)(rnd() * c->w * c->h);
	for (int y = 0; y < c->h; y++) {
		const uint8_t *src = c->bg + (size_t)(y + PAD + dy) * (size_t)c->pw + PAD + dx;
		uint8_t *dst = c->frame + (size_t)y * (size_t)c->w;
		const int8_t *n = nz + (size_t)y * (size_t)c->w;
		for (int x = 0; x < c->w; x++) {
			float v = src[x] * g + n[x];
			dst[x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
		}
	}
	if (c->foliage) { /* a tree's crown: leaves shift by up to 3 px each frame */
		int fx = c->w / 2, fy = c->h / 10, fw = c->w / 6, fh = c->h / 5, sh = (int)(rnd() * 7) - 3;
		for (int y = fy; y < fy + fh; y++)
			for (int x = fx; x < fx + fw; x++)
				c->frame[(size_t)y * (size_t)c->w + (size_t)x] =
					(uint8_t)(((((x + sh) >> 3) ^ ((y - sh) >> 3)) & 1) ? 60 : 180);
	}
	if (person_x >= 0) {
		int pw = c->w / 10, ph = c->h / 5, py = c->h - ph - c->h / 20;
		for (int y = py; y < py + ph; y++)
			for (int x = person_x; x < person_x + pw && x < c->w; x++)
				c->frame[(size_t)y * (size_t)c->w + (size_t)x] = (uint8_t)(30 + ((y >> 3) & 1) * 10);
	}
}

/* 1. ls_motion_feed per frame at w x h */
static void bench_feed(int w, int h, int frames)
{
	struct cam c;
	cam_init(&c, w, h);
	c.flicker = 0.05;
	/* pre-render 16 frames (a person walking through them) so that only
	 * the detector is timed */
	enum { NPRE = 16 };
	uint8_t *pre[NPRE];
	for (int i = 0; i < NPRE; i++) {
		cam_render(&c, i, i * w / NPRE);
		pre[i] = malloc((size_t)w * (size_t)h);
		memcpy(pre[i], c.frame, (size_t)w * (size_t)h);
	}
	struct ls_motion *m = ls_motion_new(NULL);
	struct ls_motion_result r;
	struct ls_pctl pc;
	ls_pctl_init(&pc, (unsigned)frames);
	int64_t total = 0;
	int open = 0;
	for (int f = 0; f < frames; f++) {
		int64_t a = cpu_ns();
		ls_motion_feed(m, pre[f % NPRE], w, h, w, (int64_t)f * 33333333, &r);
		int64_t d = cpu_ns() - a;
		if (f >= 20) { /* past the warm-up */
			total += d;
			ls_pctl_add(&pc, d);
			open += r.motion;
		}
	}
	int64_t p50, p99, mx;
	ls_pctl_get(&pc, &p50, &p99, &mx);
	printf("motion %dx%d: %d frames, CPU per frame mean %.3f ms, p50 %.3f ms, p99 %.3f ms (gate open in %d)\n", w,
	       h, frames - 20, total / 1e6 / (frames - 20), p50 / 1e6, p99 / 1e6, open);
	ls_pctl_clear(&pc);
	ls_motion_free(&m);
	for (int i = 0; i < NPRE; i++)
		free(pre[i]);
	cam_free(&c);
}

/* 2. ls_tracker_update with @nobj objects */
static void bench_tracker(int nobj, int updates)
{
	struct obj {
		double x, y, vx, vy, w, h;
	} *o = calloc((size_t)nobj, sizeof *o);
	for (int k = 0; k < nobj; k++) {
		double h = 50 + rnd() * 100;
		o[k] = (struct obj){ rnd() * 1800, rnd() * 900, (rnd() - 0.5) * 10, (rnd() - 0.5) * 4, h * 0.45, h };
	}
	struct ls_tracker *t = ls_tracker_new(NULL);
	struct ls_track_det *d = calloc((size_t)nobj + 8, sizeof *d);
	struct ls_track_out *out = calloc((size_t)nobj + 8, sizeof *out);
	int64_t total = 0, outs = 0;
	for (int f = 0; f < updates; f++) {
		int n = 0;
		for (int k = 0; k < nobj; k++) {
			struct obj *b = &o[k];
			b->x += b->vx;
			b->y += b->vy;
			if (b->x < 0 || b->x > 1800)
				b->vx = -b->vx;
			if (b->y < 0 || b->y > 900)
				b->vy = -b->vy;
			if (rnd() < 0.05)
				continue; /* missed */
			d[n++] = (struct ls_track_det){ (float)(b->x + 2 * gauss()), (float)(b->y + 2 * gauss()),
							(float)(b->w + 2 * gauss()), (float)(b->h + 2 * gauss()),
							(float)(0.3 + 0.7 * rnd()),  0 };
		}
		for (int i = 0; i < 3; i++) /* false positives */
			d[n++] = (struct ls_track_det){ (float)(rnd() * 1800), (float)(rnd() * 900), 40, 90, 0.6f, 0 };
		int64_t a = cpu_ns();
		int r = ls_tracker_update(t, d, n, (int64_t)f * 33333333, out, nobj + 8);
		int64_t dt = cpu_ns() - a;
		if (f >= 10) {
			total += dt;
			outs += r;
		}
	}
	printf("tracker: %d objects, %d updates, CPU per update %.1f us (%.1f confirmed tracks out per update)\n", nobj,
	       updates - 10, total / 1e3 / (updates - 10), (double)outs / (updates - 10));
	ls_tracker_free(&t);
	free(d);
	free(out);
	free(o);
}

/* 3. the idle rig */
static void bench_rig(int seconds, double det_ms)
{
	enum { NCAM = 8, FPS = 30, W = 1920, H = 1080 };
	struct cam c[NCAM];
	struct ls_motion *m[NCAM];
	for (int i = 0; i < NCAM; i++) {
		cam_init(&c[i], W, H);
		c[i].flicker = (i % 2) ? 0.10 : 0.02; /* half flicker +-10% */
		c[i].shake = (i % 3 == 2) ? 2 : 0;    /* some shake 2 px */
		c[i].foliage = (i % 4 == 1);          /* two have a tree */
		m[i] = ls_motion_new(NULL);
	}
	long frames = (long)seconds * FPS, gated[NCAM] = { 0 }, walking = 0;
	int64_t motion_ns = 0;
	const long walk_frames = 6 * FPS, period = 60 * FPS; /* a 6 s walk each minute: 10% */
	for (long f = 0; f < frames; f++) {
		for (int i = 0; i < NCAM; i++) {
			int px = -1;
			long phase = (f + 30 * FPS) % period; /* the first walk after 30 s */
			if (i == 0 && phase < walk_frames) {
				px = (int)(phase * (W + W / 10) / walk_frames) - W / 10;
				px = px < 0 ? 0 : px;
				walking++;
			}
			cam_render(&c[i], (int)f, px);
			struct ls_motion_result r;
			int64_t a = cpu_ns();
			ls_motion_feed(m[i], c[i].frame, W, H, W, f * 1000000000 / FPS, &r);
			motion_ns += cpu_ns() - a;
			gated[i] += r.motion;
		}
	}
	long all = frames * NCAM, open = 0;
	for (int i = 0; i < NCAM; i++)
		open += gated[i];
	double motion_ms = motion_ns / 1e6 / (double)all;
	/* CPU seconds per second of video, i.e. cores busy */
	double without = (double)NCAM * FPS * det_ms / 1000;
	double with = (double)NCAM * FPS * motion_ms / 1000 + (double)open / all * NCAM * FPS * det_ms / 1000;
	printf("rig: %d cameras %dx%d @ %d fps, %d s; person walking on camera 0 in %ld of %ld frames (%.1f%%)\n", NCAM,
	       W, H, FPS, seconds, walking, frames, 100.0 * walking / frames);
	printf("rig: gate open on camera 0 in %ld frames (%.1f%%); on the 7 idle cameras in", gated[0],
	       100.0 * gated[0] / frames);
	for (int i = 1; i < NCAM; i++)
		printf(" %ld", gated[i]);
	printf(" frames\n");
	printf("rig: motion detector %.3f ms CPU per frame (measured in this run)\n", motion_ms);
	printf("rig: detector at %.1f ms per frame (model): without gating %.2f cores, with gating %.3f cores "
	       "(%.1fx less)\n",
	       det_ms, without, with, without / with);
	for (int i = 0; i < 3; i++) { /* the same run, other detector costs */
		double dm = (double[]){ 5, 20, 100 }[i];
		double wo = (double)NCAM * FPS * dm / 1000;
		double wi = (double)NCAM * FPS * motion_ms / 1000 + (double)open / all * NCAM * FPS * dm / 1000;
		printf("rig: detector at %.1f ms: without %.2f cores, with %.3f cores (%.1fx less)\n", dm, wo, wi,
		       wo / wi);
	}
	for (int i = 0; i < NCAM; i++) {
		ls_motion_free(&m[i]);
		cam_free(&c[i]);
	}
}

static int bench_raw(const char *path, int w, int h)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "bench-motion: %s: cannot open\n", path);
		return 1;
	}
	size_t fs = (size_t)w * (size_t)h;
	uint8_t *img = malloc(fs);
	struct ls_motion *m = ls_motion_new(NULL);
	struct ls_motion_result r;
	long n = 0, judged = 0, open = 0, raw = 0;
	int64_t total = 0;
	while (fread(img, 1, fs, f) == fs) {
		int64_t a = cpu_ns();
		ls_motion_feed(m, img, w, h, w, n * 33333333, &r);
		total += cpu_ns() - a;
		n++;
		if (!r.learning) {
			judged++;
			open += r.motion;
			raw += r.raw;
		}
	}
	fclose(f);
	printf("ls_motion %s %dx%d: %ld frames, CPU per frame %.3f ms; after warm-up: gate open in %ld of %ld, raw "
	       "motion in %ld\n",
	       path, w, h, n, n ? total / 1e6 / n : 0.0, open, judged, raw);
	ls_motion_free(&m);
	free(img);
	return n ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "raw"))
		return bench_raw(argv[2], atoi(argv[3]), atoi(argv[4]));
	int seconds = argc > 1 ? atoi(argv[1]) : 60;
	double det_ms = argc > 2 ? atof(argv[2]) : 50;
	if (seconds < 1 || !(det_ms > 0)) {
		fprintf(stderr, "bench-motion: usage: bench-motion [RIG_SECONDS >= 1] [DET_MS > 0]\n");
		return 2;
	}
	bench_feed(1920, 1080, 500);
	bench_feed(1280, 720, 500);
	bench_feed(640, 360, 500);
	bench_tracker(50, 1000);
	bench_tracker(200, 300);
	bench_rig(seconds, det_ms);
	return 0;
}
