/* fbdev — fbdev:// cameras: the framebuffer (or a raw file standing for
 * one) read at fps by lockstep's own thread into an appsrc. */
#include <errno.h>
#include <fcntl.h>
#include <gst/app/gstappsrc.h>
#include <linux/fb.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "source_private.h"

/* The GStreamer name of a framebuffer pixel layout (little-endian bytes). */
static const char *fb_format_of(const struct fb_var_screeninfo *v)
{
	switch (v->bits_per_pixel) {
	case 32:
		return v->red.offset == 16  ? "BGRx"
		       : v->red.offset == 0 ? "RGBx"
		       : v->red.offset == 8 ? "xBGR"
					    : "xRGB";
	case 24:
		return v->red.offset == 16 ? "BGR" : "RGB";
	case 16:
		return v->red.offset == 11 ? "RGB16" : "BGR16";
	case 8:
		return "GRAY8";
	default:
		return NULL;
	}
}

static int fb_bytes_per_pixel(const char *fmt)
{
	if (!g_ascii_strcasecmp(fmt, "GRAY8"))
		return 1;
	if (!g_ascii_strcasecmp(fmt, "RGB16") || !g_ascii_strcasecmp(fmt, "BGR16"))
		return 2;
	if (!g_ascii_strcasecmp(fmt, "RGB") || !g_ascii_strcasecmp(fmt, "BGR"))
		return 3;
	if (!g_ascii_strcasecmp(fmt, "BGRx") || !g_ascii_strcasecmp(fmt, "RGBx") || !g_ascii_strcasecmp(fmt, "xRGB") ||
	    !g_ascii_strcasecmp(fmt, "xBGR") || !g_ascii_strcasecmp(fmt, "BGRA") || !g_ascii_strcasecmp(fmt, "RGBA"))
		return 4;
	return 0;
}

/* Opens the framebuffer (or a raw file standing for one) and learns its
 * visible area's geometry. */
bool ls_source_fb_open(struct ls_source *s, char **err)
{
	const struct ls_src_fbdev *f = &s->spec.fbdev;
	s->fb_fd = open(f->device, O_RDONLY | O_CLOEXEC);
	if (s->fb_fd < 0) {
		*err = g_strdup_printf("camera %s: %s: %s", s->name, f->device, g_strerror(errno));
		return false;
	}
	struct stat st;
	if (fstat(s->fb_fd, &st) == 0 && S_ISREG(st.st_mode)) {
		int bpp = f->format ? fb_bytes_per_pixel(f->format) : 0;
		if (!f->width || !f->height || !bpp) {
			*err = g_strdup_printf(
				"camera %s: %s: a regular file needs width, height and a format of BGRx, "
				"RGBx, xRGB, xBGR, BGR, RGB, RGB16, BGR16 or GRAY8",
				s->name, f->device);
			return false;
		}
		s->fb_w = f->width;
		s->fb_h = f->height;
		s->fb_bytespp = bpp;
		s->fb_stride = f->stride ? f->stride : f->width * bpp;
		s->fb_offset = 0;
		g_strlcpy(s->fb_format, f->format, sizeof s->fb_format);
		if (s->fb_stride < s->fb_w * bpp) {
			*err = g_strdup_printf("camera %s: %s: stride %d is less than width x %d bytes", s->name,
					       f->device, s->fb_stride, bpp);
			return false;
		}
		return true;
	}
	struct fb_var_screeninfo v;
	struct fb_fix_screeninfo x;
	if (ioctl(s->fb_fd, FBIOGET_VSCREENINFO, &v) < 0 || ioctl(s->fb_fd, FBIOGET_FSCREENINFO, &x) < 0) {
		*err = g_strdup_printf("camera %s: %s: not a framebuffer: %s", s->name, f->device, g_strerror(errno));
		return false;
	}
	const char *fmt = fb_format_of(&v);
	if (!fmt || x.type != FB_TYPE_PACKED_PIXELS) {
		*err = g_strdup_printf("camera %s: %s: unsupported framebuffer layout (%u bits per pixel, type %u)",
				       s->name, f->device, v.bits_per_pixel, x.type);
		return false;
	}
	s->fb_w = (int)v.xres & ~1;
	s->fb_h = (int)v.yres & ~1;
	s->fb_bytespp = (int)v.bits_per_pixel / 8;
	s->fb_stride = (int)x.line_length;
	s->fb_offset = (off_t)v.yoffset * x.line_length + (off_t)v.xoffset * s->fb_bytespp;
	g_strlcpy(s->fb_format, fmt, sizeof s->fb_format);
	return true;
}

/* Reads the framebuffer at fps and pushes each picture into the appsrc; the
 * appsrc stamps it with the running time of the push (do-timestamp), so its
 * capture time is when it was read. */
gpointer ls_source_fb_thread(gpointer data)
{
	struct ls_source *s = data;
	int64_t period = ls_rate_period_ns(s->spec.fbdev.fps), next = ls_realtime_ns();
	size_t row = (size_t)s->fb_w * (size_t)s->fb_bytespp;
	uint8_t *scratch = g_malloc((size_t)s->fb_stride);
	bool warned = false;
	while (!atomic_load(&s->stopping)) {
		for (int64_t now = ls_realtime_ns(); now < next && !atomic_load(&s->stopping); now = ls_realtime_ns())
			ls_sleep_until(next - now > 100 * LS_NS_PER_MS ? now + 100 * LS_NS_PER_MS : next);
		if (atomic_load(&s->stopping))
			break;
		int64_t now = ls_realtime_ns();
		next += period;
		if (next < now) /* late: skip whole ticks, never queue them */
			next = now + period - (now - next) % period;
		GstBuffer *b = gst_buffer_new_allocate(NULL, row * (size_t)s->fb_h, NULL);
		GstMapInfo map;
		bool ok = gst_buffer_map(b, &map, GST_MAP_WRITE);
		for (int y = 0; ok && y < s->fb_h; y++) {
			ssize_t n = pread(s->fb_fd, scratch, row, s->fb_offset + (off_t)y * s->fb_stride);
			if (n != (ssize_t)row)
				ok = false;
			else
				memcpy(map.data + (size_t)y * row, scratch, row);
		}
		if (map.data)
			gst_buffer_unmap(b, &map);
		if (!ok) {
			gst_buffer_unref(b);
			if (!warned)
				g_printerr("camera %s: %s: short read (the framebuffer changed size?)\n", s->name,
					   s->spec.fbdev.device);
			warned = true;
			continue;
		}
		warned = false;
		if (gst_app_src_push_buffer(GST_APP_SRC(s->fbsrc), b) != GST_FLOW_OK && atomic_load(&s->stopping))
			break;
	}
	g_free(scratch);
	return NULL;
}
