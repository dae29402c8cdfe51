/* test_pacer — test:// cameras: lockstep's own thread fires each frame at
 * the simulated camera's time (ls_testcam: its drifting clock, jitter,
 * drops) and pulls it from the videotestsrc pipeline. */
#include <gst/app/gstappsink.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ls_font.h"
#include "ls_stamp.h"
#include "ls_testcam.h"
#include "source_private.h"

/* pattern=clock: the slot and capture time as blocks (ls_stamp.h) and, below
 * them, in digits for people ("n 53894104716  12:34:56.789 UTC"). */
static GstBuffer *draw_clock(struct ls_source *s, GstBuffer *buf, const GstVideoInfo *info, int64_t stamp)
{
	GstVideoFrame vf;
	buf = gst_buffer_make_writable(buf);
	if (GST_VIDEO_INFO_FORMAT(info) != GST_VIDEO_FORMAT_I420 || !gst_video_frame_map(&vf, info, buf, GST_MAP_WRITE))
		return buf;
	int w = GST_VIDEO_FRAME_WIDTH(&vf), h = GST_VIDEO_FRAME_HEIGHT(&vf);
	uint8_t *y = GST_VIDEO_FRAME_PLANE_DATA(&vf, 0);
	int ys = GST_VIDEO_FRAME_PLANE_STRIDE(&vf, 0);
	int64_t n = ls_slot_index(stamp, s->rig_epoch_ns, s->offset_ns, s->rig_rate);
	ls_stamp_draw(y, ys, GST_VIDEO_FRAME_PLANE_DATA(&vf, 1), GST_VIDEO_FRAME_PLANE_DATA(&vf, 2),
		      GST_VIDEO_FRAME_PLANE_STRIDE(&vf, 1), w, h, n, stamp);
	time_t sec = (time_t)(stamp / LS_NS_PER_SEC);
	struct tm tm;
	gmtime_r(&sec, &tm);
	char text[64];
	snprintf(text, sizeof text, "n %lld  %02d:%02d:%02d.%03d UTC", (long long)n, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (int)(stamp % LS_NS_PER_SEC / LS_NS_PER_MS));
	int scale = h >= 480 ? 3 : h >= 240 ? 2 : 1;
	ls_font_draw_gray(y, ys, w, h, 4, LS_STAMP_ROWS * h / LS_STAMP_ROW_DIV + 4, scale, text, 235, 16);
	gst_video_frame_unmap(&vf);
	return buf;
}

gpointer ls_source_test_thread(gpointer data)
{
	struct ls_source *s = data;
	GstAppSink *sink = GST_APP_SINK(s->appsink);
	GstVideoInfo info;
	bool have_info = false;
	while (!atomic_load(&s->stopping)) {
		int64_t fire, stamp;
		bool keep = ls_testcam_next(&s->model, &fire, &stamp);
		int64_t due = stamp > fire ? stamp : fire;
		/* sleep in short steps so stop() is never kept waiting long */
		for (int64_t now = ls_realtime_ns(); now < due && !atomic_load(&s->stopping); now = ls_realtime_ns())
			ls_sleep_until(due - now > 100 * LS_NS_PER_MS ? now + 100 * LS_NS_PER_MS : due);
		if (atomic_load(&s->stopping))
			break;
		GstSample *smp = gst_app_sink_try_pull_sample(sink, GST_SECOND);
		if (!smp)
			continue; /* reported on the bus if it is an error */
		if (!keep) {
			atomic_fetch_add(&s->camera_drops, 1);
			gst_sample_unref(smp);
			continue;
		}
		if (!have_info)
			have_info = gst_video_info_from_caps(&info, gst_sample_get_caps(smp));
		GstBuffer *buf = gst_buffer_ref(gst_sample_get_buffer(smp));
		gst_sample_unref(smp);
		if (have_info && s->clock_pattern)
			buf = draw_clock(s, buf, &info, stamp);
		if (have_info)
			ls_source_deliver(s, buf, &info, stamp);
		else
			gst_buffer_unref(buf);
	}
	return NULL;
}
