/* rtp_capture — see rtp_capture.h. */
#include "rtp_capture.h"

#include <gst/rtp/gstrtpbasedepayload.h>
#include <gst/rtp/gstrtpbuffer.h>
#include <gst/rtp/gstrtphdrext.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "ls_time.h"

#define NTP_UNIX_OFFSET_S INT64_C(2208988800) /* 1900-01-01 to 1970-01-01 */
#define RING 64
#define NTP64_URI GST_RTP_HDREXT_BASE "ntp-64"

struct ls_rtp_capture {
	GMutex lock;            /* protects pts, rtp_ts, capture, head */
	GstClockTime pts[RING]; /* of the frame's first packet */
	uint32_t rtp_ts[RING];
	int64_t capture[RING];
	unsigned head;
	GstCaps *caps_seen; /* caps ext_id was read from (probe thread only) */
	int ext_id;         /* the extension's id in those caps, 0: none (probe thread only) */
	atomic_ullong frames;
};

/* The id the caps give the NTP-64 extension ("extmap-N" = the URI, or an
 * array whose second item is it), or 0. */
static int ext_id_of(const GstCaps *caps)
{
	const GstStructure *st = caps && gst_caps_get_size(caps) ? gst_caps_get_structure(caps, 0) : NULL;
	for (int i = 0; st && i < gst_structure_n_fields(st); i++) {
		const char *name = gst_structure_nth_field_name(st, i);
		int id;
		char end;
		if (sscanf(name, "extmap-%d%c", &id, &end) != 1 || id < 1 || id > 255)
			continue;
		const GValue *v = gst_structure_get_value(st, name);
		const char *uri = NULL;
		if (G_VALUE_HOLDS_STRING(v))
			uri = g_value_get_string(v);
		else if (GST_VALUE_HOLDS_ARRAY(v) && gst_value_array_get_size(v) >= 2 &&
			 G_VALUE_HOLDS_STRING(gst_value_array_get_value(v, 1)))
			uri = g_value_get_string(gst_value_array_get_value(v, 1));
		if (uri && strcmp(uri, NTP64_URI) == 0)
			return id;
	}
	return 0;
}

static void read_packet(struct ls_rtp_capture *rc, GstBuffer *buf)
{
	GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
	gpointer data = NULL;
	guint size = 0;
	if (!rc->ext_id || !GST_BUFFER_PTS_IS_VALID(buf) || !gst_rtp_buffer_map(buf, GST_MAP_READ, &rtp))
		return;
	bool found = gst_rtp_buffer_get_extension_onebyte_header(&rtp, (guint8)rc->ext_id, 0, &data, &size) ||
		     gst_rtp_buffer_get_extension_twobytes_header(&rtp, NULL, (guint8)rc->ext_id, 0, &data, &size);
	uint64_t ntp = 0;
	if (found && size >= 8)
		ntp = GST_READ_UINT64_BE(data);
	uint32_t ts = gst_rtp_buffer_get_timestamp(&rtp);
	gst_rtp_buffer_unmap(&rtp);
	if (!ntp)
		return;
	/* 32.32 fixed point seconds since 1900 to ns since 1970, rounded */
	int64_t ns = (int64_t)(ntp >> 32) * LS_NS_PER_SEC +
		     (int64_t)(((ntp & 0xffffffffu) * (uint64_t)LS_NS_PER_SEC + (1u << 31)) >> 32) -
		     NTP_UNIX_OFFSET_S * LS_NS_PER_SEC;
	GstClockTime pts = GST_BUFFER_PTS(buf);
	g_mutex_lock(&rc->lock);
	unsigned last = (rc->head + RING - 1) % RING;
	if (rc->pts[last] == GST_CLOCK_TIME_NONE || rc->rtp_ts[last] != ts) { /* a new frame */
		rc->pts[rc->head] = pts;
		rc->rtp_ts[rc->head] = ts;
		rc->capture[rc->head] = ns;
		rc->head = (rc->head + 1) % RING;
		atomic_fetch_add(&rc->frames, 1);
	}
	g_mutex_unlock(&rc->lock);
}

static gboolean read_list_item(GstBuffer **buf, guint idx, gpointer data)
{
	(void)idx;
	read_packet(data, *buf);
	return TRUE;
}

static GstPadProbeReturn on_rtp(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
	struct ls_rtp_capture *rc = data;
	GstCaps *caps = gst_pad_get_current_caps(pad);
	if (caps != rc->caps_seen) {
		rc->ext_id = ext_id_of(caps);
		gst_caps_replace(&rc->caps_seen, caps);
	}
	if (caps)
		gst_caps_unref(caps);
	if (info->type & GST_PAD_PROBE_TYPE_BUFFER)
		read_packet(rc, GST_PAD_PROBE_INFO_BUFFER(info));
	else if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST)
		gst_buffer_list_foreach(GST_PAD_PROBE_INFO_BUFFER_LIST(info), read_list_item, rc);
	return GST_PAD_PROBE_OK;
}

struct ls_rtp_capture *ls_rtp_capture_attach(GstElement *pipeline)
{
	struct ls_rtp_capture *rc = NULL;
	GstIterator *it = gst_bin_iterate_elements(GST_BIN(pipeline));
	GValue v = G_VALUE_INIT;
	while (gst_iterator_next(it, &v) == GST_ITERATOR_OK) {
		GstElement *e = g_value_get_object(&v);
		if (GST_IS_RTP_BASE_DEPAYLOAD(e)) {
			if (!rc) {
				rc = g_new0(struct ls_rtp_capture, 1);
				g_mutex_init(&rc->lock);
				for (unsigned i = 0; i < RING; i++)
					rc->pts[i] = GST_CLOCK_TIME_NONE;
			}
			GstPad *sink = gst_element_get_static_pad(e, "sink");
			gst_pad_add_probe(sink, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST, on_rtp, rc,
					  NULL);
			gst_object_unref(sink);
		}
		g_value_reset(&v);
	}
	g_value_unset(&v);
	gst_iterator_free(it);
	return rc;
}

bool ls_rtp_capture_lookup(struct ls_rtp_capture *rc, GstClockTime pts, int64_t *capture_ns)
{
	/* The jitterbuffer stamps each packet of a frame a little differently
	 * (its clock skew estimate moves), so the decoded frame's PTS matches
	 * its first packet's only to within a fraction of a millisecond: take
	 * the nearest frame, if it is clearly nearer than the next nearest. */
	GstClockTimeDiff best = G_MAXINT64, second = G_MAXINT64;
	int64_t t = 0;
	if (!rc || !GST_CLOCK_TIME_IS_VALID(pts))
		return false;
	g_mutex_lock(&rc->lock);
	for (unsigned i = 0; i < RING; i++) {
		if (rc->pts[i] == GST_CLOCK_TIME_NONE)
			continue;
		GstClockTimeDiff d = GST_CLOCK_DIFF(pts, rc->pts[i]);
		if (d < 0)
			d = -d;
		if (d < best) {
			second = best;
			best = d;
			t = rc->capture[i];
		} else if (d < second) {
			second = d;
		}
	}
	g_mutex_unlock(&rc->lock);
	if (best == G_MAXINT64 || best > 4 * GST_MSECOND || (second != G_MAXINT64 && best * 4 > second))
		return false;
	*capture_ns = t;
	return true;
}

uint64_t ls_rtp_capture_frames(const struct ls_rtp_capture *rc) { return rc ? atomic_load(&rc->frames) : 0; }

void ls_rtp_capture_free(struct ls_rtp_capture **rcp)
{
	struct ls_rtp_capture *rc = rcp ? *rcp : NULL;
	if (!rc)
		return;
	*rcp = NULL;
	gst_caps_replace(&rc->caps_seen, NULL);
	g_mutex_clear(&rc->lock);
	g_free(rc);
}
