/* Tests for lib/ls_stamp.c: the slot and capture time drawn as blocks read
 * back exactly, after noise, after scaling to other sizes, and rejected
 * when damaged. */
#include <errno.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "ls_stamp.h"

static void draw(uint8_t *pic, int w, int h, int64_t slot, int64_t t)
{
	memset(pic, 90, (size_t)w * h * 3 / 2);
	ls_stamp_draw(pic, w, pic + w * h, pic + w * h + w * h / 4, w / 2, w, h, slot, t);
}

static void test_round_trip(void)
{
	static const int sizes[][2] = { { 64, 48 },    { 320, 180 },   { 640, 360 },
					{ 1280, 720 }, { 1920, 1080 }, { 333, 201 } };
	static const int64_t slots[] = { 0, 1, 53894104716, -5, (INT64_C(1) << 47) - 1, -(INT64_C(1) << 47) };
	for (size_t s = 0; s < G_N_ELEMENTS(sizes); s++) {
		int w = sizes[s][0] & ~1, h = sizes[s][1] & ~1;
		uint8_t *pic = g_malloc((size_t)w * h * 3 / 2);
		for (size_t i = 0; i < G_N_ELEMENTS(slots); i++) {
			int64_t t = INT64_C(1796469682966666666) + (int64_t)i * 33333333, slot, us;
			draw(pic, w, h, slots[i], t);
			g_assert_cmpint(ls_stamp_read(pic, w, w, h, &slot, &us), ==, 0);
			g_assert_cmpint(slot, ==, slots[i]);
			g_assert_cmpint(us, ==, t / 1000);
		}
		g_free(pic);
	}
}

/* Nearest-neighbour scaling plus noise of +-40: what a scaled tile of a
 * decoded H.264 picture looks like at worst. */
static void test_scaled_and_noisy(void)
{
	int w = 640, h = 360;
	uint8_t *pic = g_malloc((size_t)w * h * 3 / 2);
	draw(pic, w, h, 123456789, INT64_C(1796469700000000000));
	static const int outs[][2] = { { 320, 180 }, { 213, 120 }, { 1280, 720 }, { 160, 90 } };
	GRand *rng = g_rand_new_with_seed(7);
	for (size_t o = 0; o < G_N_ELEMENTS(outs); o++) {
		int ow = outs[o][0], oh = outs[o][1];
		uint8_t *sc = g_malloc((size_t)ow * oh);
		for (int y = 0; y < oh; y++)
			for (int x = 0; x < ow; x++) {
				int v = pic[(size_t)(y * h / oh) * w + x * w / ow] + g_rand_int_range(rng, -40, 41);
				sc[(size_t)y * ow + x] = (uint8_t)CLAMP(v, 0, 255);
			}
		int64_t slot, us;
		g_assert_cmpint(ls_stamp_read(sc, ow, ow, oh, &slot, &us), ==, 0);
		g_assert_cmpint(slot, ==, 123456789);
		g_assert_cmpint(us, ==, INT64_C(1796469700000000));
		g_free(sc);
	}
	g_rand_free(rng);
	g_free(pic);
}

static void test_rejects_damage(void)
{
	int w = 320, h = 180;
	uint8_t *pic = g_malloc((size_t)w * h * 3 / 2);
	int64_t slot, us;
	memset(pic, 90, (size_t)w * h * 3 / 2);
	g_assert_cmpint(ls_stamp_read(pic, w, w, h, &slot, &us), ==, -EBADMSG); /* none */
	draw(pic, w, h, 42, INT64_C(1796469700000000000));
	/* flip one data cell: the CRC catches it */
	int x = 5 * w / 32 + 2, y = 2 * h / 24 + 2;
	for (int yy = y; yy < y + h / 24 - 4; yy++)
		for (int xx = x; xx < x + w / 32 - 4; xx++)
			pic[yy * w + xx] = pic[yy * w + xx] > 128 ? 16 : 235;
	g_assert_cmpint(ls_stamp_read(pic, w, w, h, &slot, &us), ==, -EBADMSG);
	/* too small to hold one */
	g_assert_cmpint(ls_stamp_read(pic, w, 40, 20, &slot, &us), ==, -EBADMSG);
	g_free(pic);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/stamp/round-trip", test_round_trip);
	g_test_add_func("/stamp/scaled-and-noisy", test_scaled_and_noisy);
	g_test_add_func("/stamp/rejects-damage", test_rejects_damage);
	return g_test_run();
}
