/* test_pacer — test:// cameras: lockstep's own thread fires each frame at
 * the simulated camera's time (ls_testcam: its drifting clock, jitter,
 * drops) and pulls it from the videotestsrc pipeline. */
#include <gst/app/gstappsink.h>

#include "ls_testcam.h"
#include "source_private.h"

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
		if (have_info)
			ls_source_deliver(s, buf, &info, stamp);
		else
			gst_buffer_unref(buf);
	}
	return NULL;
}
