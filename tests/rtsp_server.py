#!/usr/bin/python3
"""A real RTSP camera for the tests: GStreamer's RTSP server (through
PyGObject, Debian's gir1.2-gst-rtsp-server-1.0) serving a moving ball as
H.264 (x264, no B-frames) on 127.0.0.1. It sends RTCP sender reports, so
lockstep's rtspsrc gets the sender's NTP capture times.

usage: rtsp_server.py PORT [KEYINT] [FPS] [WIDTHxHEIGHT]
Serves rtsp://127.0.0.1:PORT/cam, prints "ready" once listening, and runs
until killed. Exit status 77 when the server library is missing.
"""
import sys

try:
    import gi
    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer
except (ImportError, ValueError) as e:
    print("no RTSP server library: %s" % e, file=sys.stderr)
    sys.exit(77)


def main():
    port = int(sys.argv[1])
    keyint = int(sys.argv[2]) if len(sys.argv) > 2 else 45
    fps = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    width, height = map(int, (sys.argv[4] if len(sys.argv) > 4 else "320x240").split("x"))
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch("( videotestsrc is-live=true pattern=ball ! "
                       "video/x-raw,format=I420,width=%d,height=%d,framerate=%d/1 ! "
                       "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=%d ! "
                       "rtph264pay name=pay0 pt=96 config-interval=1 )" % (width, height, fps, keyint))
    factory.set_shared(True)
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        print("cannot listen on 127.0.0.1:%d" % port, file=sys.stderr)
        sys.exit(1)
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
