/* ls_stamp — see ls_stamp.h. */
#include "ls_stamp.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define DATA_CELLS (LS_STAMP_CELLS - 2)
#define NBITS (LS_STAMP_ROWS * DATA_CELLS) /* 120 */

/* CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) */
static uint16_t crc16(const uint8_t *p, int n)
{
	uint16_t c = 0xffff;
	for (int i = 0; i < n; i++) {
		c ^= (uint16_t)(p[i] << 8);
		for (int b = 0; b < 8; b++)
			c = (uint16_t)(c & 0x8000 ? (c << 1) ^ 0x1021 : c << 1);
	}
	return c;
}

/* The 15 bytes of the message: slot (6), µs (7), CRC (2), big-endian. */
static void pack(int64_t slot, int64_t us, uint8_t m[15])
{
	for (int i = 0; i < 6; i++)
		m[i] = (uint8_t)((uint64_t)slot >> (8 * (5 - i)));
	for (int i = 0; i < 7; i++)
		m[6 + i] = (uint8_t)((uint64_t)us >> (8 * (6 - i)));
	uint16_t c = crc16(m, 13);
	m[13] = (uint8_t)(c >> 8);
	m[14] = (uint8_t)c;
}

/* Cell (row r, column c): x0 <= x < x1, y0 <= y < y1. */
static void cell(int w, int h, int r, int c, int *x0, int *x1, int *y0, int *y1)
{
	*x0 = c * w / LS_STAMP_CELLS;
	*x1 = (c + 1) * w / LS_STAMP_CELLS;
	*y0 = r * h / LS_STAMP_ROW_DIV;
	*y1 = (r + 1) * h / LS_STAMP_ROW_DIV;
}

static void fill(uint8_t *p, int stride, int x0, int x1, int y0, int y1, uint8_t val)
{
	for (int y = y0; y < y1; y++)
		memset(p + (size_t)y * (size_t)stride + x0, val, (size_t)(x1 - x0));
}

void ls_stamp_draw(uint8_t *y, int stride, uint8_t *u, uint8_t *v, int cstride, int w, int h, int64_t slot,
		   int64_t capture_ns)
{
	if (!y || w < 64 || h < 48)
		return;
	int64_t us = capture_ns >= 0 ? capture_ns / 1000 : -((-capture_ns + 999) / 1000);
	uint8_t m[15];
	pack(slot, us, m);
	for (int r = 0; r < LS_STAMP_ROWS; r++)
		for (int c = 0; c < LS_STAMP_CELLS; c++) {
			int bit;
			if (c == 0)
				bit = 1;
			else if (c == LS_STAMP_CELLS - 1)
				bit = 0;
			else {
				int k = r * DATA_CELLS + c - 1;
				bit = m[k / 8] >> (7 - k % 8) & 1;
			}
			int x0, x1, y0, y1;
			cell(w, h, r, c, &x0, &x1, &y0, &y1);
			fill(y, stride, x0, x1, y0, y1, bit ? 235 : 16);
		}
	if (u && v) {
		int y1 = (LS_STAMP_ROWS * h / LS_STAMP_ROW_DIV + 1) / 2;
		fill(u, cstride, 0, w / 2, 0, y1, 128);
		fill(v, cstride, 0, w / 2, 0, y1, 128);
	}
}

/* The mean luma of the middle half of a cell. */
static int sample(const uint8_t *y, int stride, int w, int h, int r, int c)
{
	int x0, x1, y0, y1;
	cell(w, h, r, c, &x0, &x1, &y0, &y1);
	int qx = (x1 - x0) / 4, qy = (y1 - y0) / 4;
	x0 += qx;
	x1 -= qx;
	y0 += qy;
	y1 -= qy;
	if (x1 <= x0 || y1 <= y0)
		return -1;
	long sum = 0;
	for (int yy = y0; yy < y1; yy++)
		for (int xx = x0; xx < x1; xx++)
			sum += y[(size_t)yy * (size_t)stride + xx];
	return (int)(sum / ((long)(x1 - x0) * (y1 - y0)));
}

int ls_stamp_read(const uint8_t *y, int stride, int w, int h, int64_t *slot, int64_t *capture_us)
{
	uint8_t m[15] = { 0 };
	if (!y || w < LS_STAMP_CELLS * 2 || h < LS_STAMP_ROW_DIV)
		return -EBADMSG;
	for (int r = 0; r < LS_STAMP_ROWS; r++) {
		int white = sample(y, stride, w, h, r, 0), black = sample(y, stride, w, h, r, LS_STAMP_CELLS - 1);
		if (white < 0 || black < 0 || white - black < 64)
			return -EBADMSG;
		int thr = (white + black) / 2;
		for (int c = 1; c < LS_STAMP_CELLS - 1; c++) {
			int k = r * DATA_CELLS + c - 1;
			if (sample(y, stride, w, h, r, c) > thr)
				m[k / 8] |= (uint8_t)(1 << (7 - k % 8));
		}
	}
	if (crc16(m, 13) != (uint16_t)(m[13] << 8 | m[14]))
		return -EBADMSG;
	uint64_t s = 0, t = 0;
	for (int i = 0; i < 6; i++)
		s = s << 8 | m[i];
	for (int i = 0; i < 7; i++)
		t = t << 8 | m[6 + i];
	/* sign-extend 48 and 56 bits */
	*slot = (int64_t)(s << 16) >> 16;
	*capture_us = (int64_t)(t << 8) >> 8;
	return 0;
}
