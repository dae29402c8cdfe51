#!/usr/bin/python3
"""An RTSP client for the tests: plays URL over TCP with GStreamer and prints
one line per second, "fps N", the frames (access units) that reached the
depayloader's output in that second. Runs until killed.

usage: rtsp_client.py URL
Exit status 77 when GStreamer's Python bindings are missing.
"""
import sys

try:
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import GLib, Gst
except (ImportError, ValueError) as e:
    print("no GStreamer bindings: %s" % e, file=sys.stderr)
    sys.exit(77)


def main():
    Gst.init(None)
    p = Gst.parse_launch("rtspsrc location=%s protocols=tcp latency=100 ! rtph264depay name=d ! fakesink sync=false"
                         % sys.argv[1])
    frames = [0]

    def count(pad, info):
        frames[0] += 1
        return Gst.PadProbeReturn.OK

    p.get_by_name("d").get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, count)

    def tick():
        print("fps %d" % frames[0], flush=True)
        frames[0] = 0
        return True

    p.set_state(Gst.State.PLAYING)
    GLib.timeout_add(1000, tick)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
