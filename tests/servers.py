"""Real servers and senders the end-to-end tests start on loopback."""
import os
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def rtsp_camera(port, keyint=45, fps=30):
    """tests/rtsp_server.py (GStreamer's RTSP server, run by Debian's
    python3, which has PyGObject) serving rtsp://127.0.0.1:PORT/cam; returns
    the process once it listens. Stop it with .terminate()."""
    err = tempfile.TemporaryFile(mode="w+")  # a file: a chatty server never blocks on a full pipe
    p = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "rtsp_server.py"), str(port), str(keyint),
                          str(fps)], stdout=subprocess.PIPE, stderr=err, text=True)
    line = p.stdout.readline().strip()
    if line != "ready":
        p.kill()
        p.wait()
        err.seek(0)
        raise AssertionError("the RTSP server did not start (scripts/setup.sh installs "
                             "gir1.2-gst-rtsp-server-1.0): " + err.read().strip())
    return p


def rtp_sender(port, width=320, height=240, fps=30, keyint=45, bframes=False):
    """A network camera: gst-launch sending x264 over RTP to
    127.0.0.1:PORT, a keyframe every KEYINT frames, B-frames only when
    asked (tune=zerolatency has none). Stop it with .terminate()."""
    tune = ["bframes=2", "b-adapt=false"] if bframes else ["tune=zerolatency"]
    return subprocess.Popen(["gst-launch-1.0", "-q", "videotestsrc", "is-live=true", "pattern=ball", "!",
                             "video/x-raw,width=%d,height=%d,framerate=%d/1" % (width, height, fps), "!",
                             "x264enc"] + tune + ["speed-preset=ultrafast", "key-int-max=%d" % keyint, "!",
                             "rtph264pay", "config-interval=1", "pt=96", "!", "udpsink", "host=127.0.0.1",
                             "port=%d" % port], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
