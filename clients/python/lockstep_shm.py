"""lockstep_shm — read lockstep framesets from POSIX shared memory, in Python.

A lockstep rig with ``[output shm] name=NAME`` publishes every frameset in
the segment ``/dev/shm/NAME``. This module attaches to it by name, waits for
new sets on the segment's futex word (no polling) and hands out numpy arrays
that are *views into the shared mapping*: frame data is never copied. It
behaves like the C reader in ``clients/c/lockstep_shm.c`` (same wire format,
same rules) and needs only the standard library (ctypes, mmap, os) and numpy.

    import lockstep_shm

    with lockstep_shm.Reader("rig") as r:
        for fs in r.framesets(timeout=1.0):
            for f in fs.frames:                  # one Frame per camera
                if f.state == "missing":
                    continue
                y = f.image()                    # (height, width) uint8 view
                ...                              # use it now, don't keep it
            if not fs.valid():                   # overwritten while in use:
                ...                              # discard what was computed

``Reader.next(timeout)`` is the lower-level call: it returns a FrameSet, an
Overrun (sets were lost because the reader fell behind), a Torn (the set was
overwritten while its header was read), WriterGone, Reattached (a new writer
took over the name) or None (timeout).

Opening and closing
-------------------
The segment is opened with ``os.open("/dev/shm/" + NAME)`` and mapped with
``mmap.mmap(..., MAP_SHARED)``. ``multiprocessing.shared_memory`` is
deliberately *not* used: on Python <= 3.12 its resource tracker registers
every segment a process attaches to and ``shm_unlink``\\ s it when that
process exits, so a mere reader would delete the writer's segment (and warn
about "leaked shared_memory objects"). This module never unlinks anything;
closing a Reader, or the reading process exiting or crashing, cannot harm the
writer or other readers.

The mapping is read-write when permissions allow (readers take part in the
futex protocol: they count themselves in the header's ``waiters`` word), and
read-only otherwise. The numpy views are always read-only.

Views and close()
-----------------
Plane arrays are views of the mapping, valid only while the set is not
overwritten (check ``FrameSet.valid()`` *after* using the data, as with any
seqlock) and, for the memory itself, as long as the array lives: an mmap
cannot be unmapped while numpy arrays point into it (``mmap.close()`` raises
BufferError). ``Reader.close()`` therefore unmaps right away when no views
are left, and otherwise just lets go of the mapping: it is unmapped when the
last view is garbage-collected. Drop views before close() to free the memory
at once. FrameSet.valid() returns False once its reader has closed the
mapping (or moved on to a new writer's segment).

Waiting: the futex and the ``waiters`` counter
----------------------------------------------
The writer stores ``published`` and the ``futex`` word, then calls FUTEX_WAKE
only when ``waiters`` is non-zero. A reader therefore has to increment
``waiters`` atomically around its FUTEX_WAIT, and the increment has to be a
full barrier before it re-reads ``published`` (the writer's side is a
seq_cst store of ``futex`` followed by a seq_cst load of ``waiters``).
Python has no atomic read-modify-write on foreign memory, but GCC's
libatomic (libatomic.so.1, installed with the compiler: Debian libatomic1)
exports ``__atomic_fetch_add_4`` and friends as real functions, callable
through ctypes. This module:

* uses libatomic's seq_cst fetch_add/fetch_sub on ``waiters``, acquire loads
  of ``published``/``seq`` and an acquire fence in the seqlock check, and
  sleeps at most 250 ms per FUTEX_WAIT (to notice a dead writer), exactly
  like the C reader;
* without libatomic, or with a read-only mapping, falls back to a plain
  read-modify-write of ``waiters`` (read-only: none at all) and caps every
  FUTEX_WAIT at 50 ms. A lost update then leaves the counter too high
  (harmless: the writer issues a needless wake) or too low (a reader may
  miss a wake-up and notice the new set when its wait times out, at most
  50 ms late). Never a busy loop, never a hang.

``Reader.atomic_waiters`` tells which of the two is in use.

Threads: one Reader per thread. The futex wait releases the GIL.
"""

import ctypes
import ctypes.util
import errno
import mmap
import os
import platform
import struct
import time
from collections import namedtuple

import numpy as np

__all__ = [
    "Reader", "FrameSet", "Frame", "CameraInfo", "Overrun", "Torn", "WriterGone", "Reattached",
    "ShmError", "LayoutError", "SegmentNotFound", "WriterGoneError",
    "fnv1a64", "valid_name", "MAGIC", "VERSION",
]

# ---- the wire format (clients/c/lockstep_shm.h) ----------------------------

MAGIC = 0x314D48535453434C  # "LCSTSHM1"
VERSION = 1
NAME_MAX = 32
MAX_PLANES = 4
HEADER_SIZE = 256
CAM_INFO_SIZE = 128
SLOT_HEADER_SIZE = 64
SLOT_CAM_SIZE = 32
GONE_NS = 1_000_000_000  # heartbeat older than this: writer gone

# struct lshm_header, up to and including `closed` (the rest is reserved)
_HEADER = struct.Struct("<Q 7I I QQQ iiiI qQ QQ III")
# struct lshm_cam_info
_CAM_INFO = struct.Struct("<32s 4I 16I QQ")
# struct lshm_slot
_SLOT = struct.Struct("<QQqqqq II 8x")
# struct lshm_slot_cam
_SLOT_CAM = struct.Struct("<IIqqQ")
assert _CAM_INFO.size == CAM_INFO_SIZE and _SLOT.size == SLOT_HEADER_SIZE and _SLOT_CAM.size == SLOT_CAM_SIZE
assert _HEADER.size == 124  # 132 reserved bytes follow

# byte offsets of the header's atomic words
_OFF_GENERATION = 88
_OFF_HEARTBEAT = 96
_OFF_PUBLISHED = 104
_OFF_FUTEX = 112
_OFF_WAITERS = 116
_OFF_CLOSED = 120

FORMATS = {0: "UNKNOWN", 1: "I420", 2: "NV12", 3: "GRAY8", 4: "BGRX", 5: "RGBA"}
STATES = {0: "missing", 1: "present", 2: "held"}

# ---- errors and results -----------------------------------------------------


class ShmError(OSError):
    """A segment could not be used."""


class LayoutError(ShmError):
    """The segment is not a lockstep segment this reader understands
    (magic, version, struct sizes or sizes differ). Like the C reader's
    -EPROTO."""


class SegmentNotFound(ShmError, FileNotFoundError):
    """No segment of that name (is the writer running?)."""


class WriterGoneError(ShmError):
    """Raised by Reader.framesets(on_gone="raise")."""


Overrun = namedtuple("Overrun", "skipped")
Overrun.__doc__ = "The reader fell behind: `skipped` sets were lost; the next call returns the newest one."
Torn = namedtuple("Torn", "set")
Torn.__doc__ = "Set `set` was overwritten while its header was being read: it is dropped."
WriterGone = namedtuple("WriterGone", "reason pid")
WriterGone.__doc__ = ("The writer closed the segment, died or stopped its heartbeat (> 1 s). The reader keeps "
                      "looking for a new writer under the same name: later calls return Reattached.")
Reattached = namedtuple("Reattached", "generation")
Reattached.__doc__ = "A new segment (writer) took over the name; the reader now starts at its newest set."

CameraInfo = namedtuple("CameraInfo", "index name format format_id width height planes data_offset data_size")
CameraInfo.__doc__ = "A camera's fixed format; planes is a tuple of (offset, stride, rows)."

# ---- libc: futex; libatomic: atomics ---------------------------------------

_FUTEX_WAIT = 0
_SYS_FUTEX = {
    "x86_64": 202, "amd64": 202,
    "aarch64": 98, "arm64": 98, "riscv64": 98,
    "i386": 240, "i486": 240, "i586": 240, "i686": 240,
    "armv7l": 240, "armv6l": 240,
    "ppc64le": 221, "ppc64": 221, "s390x": 238,
}.get(platform.machine().lower())

_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def _load_libatomic():
    for name in ("libatomic.so.1", ctypes.util.find_library("atomic")):
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
            add, sub = lib.__atomic_fetch_add_4, lib.__atomic_fetch_sub_4
            load8, fence = lib.__atomic_load_8, lib.atomic_thread_fence
        except (OSError, AttributeError):
            continue
        for f in (add, sub):
            f.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int]
            f.restype = ctypes.c_uint32
        load8.argtypes = [ctypes.c_void_p, ctypes.c_int]
        load8.restype = ctypes.c_uint64
        fence.argtypes = [ctypes.c_int]
        fence.restype = None
        return add, sub, load8, fence
    return None


_ACQUIRE, _SEQ_CST = 2, 5
_atomics = _load_libatomic()


def _load64(addr):
    """An acquire load of an aligned 64-bit word."""
    if _atomics:
        return _atomics[2](addr, _ACQUIRE)
    return ctypes.c_uint64.from_address(addr).value


def _load32(addr):
    return ctypes.c_uint32.from_address(addr).value  # aligned 32-bit loads are single loads


def _fence_acquire():
    if _atomics:
        _atomics[3](_ACQUIRE)


def _futex_wait(addr, expected, timeout_ns):
    """Sleeps until the futex word at addr changes from `expected` or the
    timeout passes (or a signal arrives). Never spins."""
    if _SYS_FUTEX is None:  # an architecture we have no number for: sleep in short steps
        time.sleep(min(timeout_ns, 10_000_000) / 1e9)
        return
    ts = _Timespec(timeout_ns // 1_000_000_000, timeout_ns % 1_000_000_000)
    _syscall(ctypes.c_long(_SYS_FUTEX), ctypes.c_void_p(addr), ctypes.c_int(_FUTEX_WAIT),
             ctypes.c_uint32(expected), ctypes.byref(ts), ctypes.c_void_p(None), ctypes.c_int(0))
    # EAGAIN (value differs), ETIMEDOUT, EINTR: the caller re-checks everything


# ---- helpers -----------------------------------------------------------------


def valid_name(name):
    """The rule of the C reader and writer: 1-200 of [A-Za-z0-9_.-], not starting with '.'."""
    if not isinstance(name, str) or not 1 <= len(name) <= 200 or name[0] == ".":
        return False
    return all(c.isascii() and (c.isalnum() or c in "_-.") for c in name)


_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_M64 = 0xFFFFFFFFFFFFFFFF


def fnv1a64(data):
    """FNV-1a 64 of a byte sequence, the checksum the writer stores.

    `data` is bytes-like or a 1-D uint8 array: returns an int. A 2-D uint8
    array of shape (k, n) is k independent byte strings of length n: returns
    a uint64 array of their k checksums, computed column by column in numpy
    (fast when k is large; FNV itself is sequential within a string)."""
    a = np.asarray(data if not isinstance(data, (bytes, bytearray, memoryview)) else np.frombuffer(data, np.uint8))
    if a.ndim == 2:
        h = np.full(a.shape[0], _FNV_OFFSET, dtype=np.uint64)
        prime = np.uint64(_FNV_PRIME)
        cols = np.ascontiguousarray(a.T)  # one row per byte position (uint8: n*k bytes)
        with np.errstate(over="ignore"):
            for col in cols:
                h ^= col
                h *= prime  # uint64 arithmetic wraps modulo 2**64
        return h
    h = _FNV_OFFSET
    for b in a.reshape(-1).tobytes():
        h = ((h ^ b) * _FNV_PRIME) & _M64
    return h


# ---- the mapping ---------------------------------------------------------------


class _Mapping:
    """One mapped segment. Kept alive by the Reader and by its FrameSets;
    `closed` guards every raw-address access after close()."""

    def __init__(self, mm, size, writable, st):
        self.mm = mm
        self.size = size
        self.writable = writable
        self.dev, self.ino = st.st_dev, st.st_ino
        self.u8 = np.frombuffer(mm, dtype=np.uint8)
        self.u8.flags.writeable = False  # every view handed out is read-only
        self.addr = self.u8.ctypes.data
        self.closed = False

    def close(self):
        if self.closed:
            return
        self.closed = True
        self.u8 = None
        try:
            self.mm.close()
        except BufferError:
            pass  # numpy views still point in: the mapping goes with the last of them
        self.mm = None


# ---- frames and sets ---------------------------------------------------------------


class Frame:
    """One camera's entry in a set. `planes` (lazily built) is a list of
    read-only uint8 arrays of shape (rows, stride), views into the segment;
    empty for a missing frame."""

    __slots__ = ("index", "name", "state", "format", "format_id", "width", "height", "capture_ns",
                 "offset_ns", "checksum", "_map", "_base", "_info", "_planes")

    def __init__(self, mapping, slot_base, info, state, capture_ns, offset_ns, checksum):
        self.index = info.index
        self.name = info.name
        self.state = STATES.get(state, "missing")
        self.format = info.format
        self.format_id = info.format_id
        self.width = info.width
        self.height = info.height
        self.capture_ns = capture_ns
        self.offset_ns = offset_ns
        self.checksum = checksum
        self._map = mapping
        self._base = slot_base + info.data_offset
        self._info = info
        self._planes = None

    @property
    def planes(self):
        if self._planes is None:
            if self.state == "missing":
                self._planes = []
            else:
                u8 = self._map.u8
                if u8 is None:
                    raise ValueError("lockstep_shm: the reader was closed")
                self._planes = [u8[self._base + off:self._base + off + stride * rows].reshape(rows, stride)
                                for off, stride, rows in self._info.planes]
        return self._planes

    def image(self):
        """The picture without row padding, zero-copy: (height, width) for
        GRAY8 and the Y plane of I420/NV12, (height, width, 4) for BGRX/RGBA.
        None for a missing frame."""
        if self.state == "missing":
            return None
        p = self.planes[0]
        h, w = self.height, self.width
        if self.format in ("BGRX", "RGBA"):
            return p[:h, :4 * w].reshape(h, w, 4)  # splits the contiguous row: never copies
        if self.format in ("GRAY8", "I420", "NV12"):
            return p[:h, :w]
        raise ValueError("lockstep_shm: no image view for format %s" % self.format)

    def chroma(self):
        """I420: (u, v), each (ceil(h/2), ceil(w/2)); NV12: the interleaved
        UV plane as (ceil(h/2), ceil(w/2), 2). Views. None when missing."""
        if self.state == "missing":
            return None
        ch, cw = (self.height + 1) // 2, (self.width + 1) // 2
        if self.format == "I420":
            return self.planes[1][:ch, :cw], self.planes[2][:ch, :cw]
        if self.format == "NV12":
            return self.planes[1][:ch, :2 * cw].reshape(ch, cw, 2)
        raise ValueError("lockstep_shm: no chroma planes in format %s" % self.format)

    def compute_checksum(self):
        """FNV-1a 64 over every plane's rows x stride bytes (padding included,
        as the writer computes it). Pure Python: a few ms per 100 kB."""
        h = _FNV_OFFSET
        for p in self.planes:
            for b in p.tobytes():
                h = ((h ^ b) * _FNV_PRIME) & _M64
        return h

    def __repr__(self):
        return "<Frame %s %s %s %dx%d capture_ns=%d>" % (self.name, self.state, self.format, self.width,
                                                           self.height, self.capture_ns)


class FrameSet:
    """One published set. Attributes: set (set number), n (slot index),
    slot_ns, skew_ns, publish_mono_ns, ncams, npresent, frames (list of
    Frame, one per camera), skipped (sets lost just before this one)."""

    __slots__ = ("set", "n", "slot_ns", "skew_ns", "publish_mono_ns", "ncams", "npresent", "frames", "skipped",
                 "slot", "_map", "_seq_addr", "_seq")

    def __init__(self, mapping, slot, seq, seq_addr, hdr, frames, skipped):
        self._map = mapping
        self.slot = slot
        self._seq = seq
        self._seq_addr = seq_addr
        _, self.set, self.n, self.slot_ns, self.skew_ns, self.publish_mono_ns, _, self.npresent = hdr
        self.ncams = len(frames)
        self.frames = frames
        self.skipped = skipped

    def valid(self):
        """True while the set was never overwritten since next() returned it.
        Call it after using the data: False means discard the results."""
        m = self._map
        if m.closed:
            return False
        _fence_acquire()  # the data loads before this stay before the seq load
        return _load64(self._seq_addr) == self._seq

    def frame(self, cam):
        """A Frame by index or camera name."""
        if isinstance(cam, str):
            for f in self.frames:
                if f.name == cam:
                    return f
            raise KeyError(cam)
        return self.frames[cam]

    def image(self, cam):
        """frame(cam).image(): a zero-copy (h, w) or (h, w, 4) view."""
        return self.frame(cam).image()

    def __repr__(self):
        return "<FrameSet set=%d n=%d present=%d/%d skew_ns=%d>" % (self.set, self.n, self.npresent, self.ncams,
                                                                    self.skew_ns)


# ---- the reader ----------------------------------------------------------------------


class Reader:
    """Attaches to segment NAME (as given to lockstep: "rig", not "/rig").

    Raises ValueError for a bad name, SegmentNotFound (a FileNotFoundError)
    when there is no such segment, LayoutError when it is not a lockstep
    segment of this version, PermissionError when it may not be read.

    readonly=True maps the segment read-only even when it could be written:
    the reader then never writes to it (it does not count itself in
    `waiters`, so it is woken only when others wait; its waits are capped at
    50 ms). Readers fall back to that mode by themselves when the segment's
    permissions allow reading only."""

    def __init__(self, name, shm_dir="/dev/shm", readonly=False):
        if not valid_name(name):
            raise ValueError("shm name \"%s\": use 1-200 of [A-Za-z0-9_.-], not starting with '.'" % (name,))
        self.name = name
        self.path = os.path.join(shm_dir, name)
        self.readonly = bool(readonly)
        self._map = None
        self._gone = False
        self._next = 0
        self._skipped = 0
        self.error = ""
        self.stats = {"sets": 0, "torn": 0, "overruns": 0, "skipped": 0, "gone": 0, "reattached": 0,
                      "timeouts": 0}
        self._attach()

    # -- attach / detach

    def _attach(self):
        """Maps the segment and checks its layout; replaces the current
        mapping only on success."""
        path = self.path
        writable = not self.readonly
        try:
            try:
                fd = os.open(path, (os.O_RDWR if writable else os.O_RDONLY) | os.O_CLOEXEC)  # RDWR: the futex
            except PermissionError:
                if not writable:
                    raise
                writable = False
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)  # PermissionError goes to the caller
        except FileNotFoundError:
            raise SegmentNotFound(errno.ENOENT, "shm %s: no such segment (is the writer running?)" % self.name,
                                  path) from None
        try:
            st = os.fstat(fd)
            size = st.st_size
            if size < HEADER_SIZE:
                raise LayoutError(errno.EPROTO, "shm %s: too small to be a lockstep segment" % self.name)
            prot = mmap.PROT_READ | (mmap.PROT_WRITE if writable else 0)
            try:
                mm = mmap.mmap(fd, size, mmap.MAP_SHARED, prot)
            except PermissionError:
                writable = False
                mm = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ)
        finally:
            os.close(fd)  # the mapping keeps the segment alive
        try:
            self._check(mm, size)
            m = _Mapping(mm, size, writable, st)
        except BaseException:
            mm.close()
            raise
        h = _HEADER.unpack_from(mm, 0)
        cams = []
        for c in range(h[7]):
            ci = _CAM_INFO.unpack_from(mm, HEADER_SIZE + c * CAM_INFO_SIZE)
            nplanes = min(ci[4], MAX_PLANES)
            planes = tuple((ci[5 + 4 * p], ci[6 + 4 * p], ci[7 + 4 * p]) for p in range(nplanes))
            cams.append(CameraInfo(c, ci[0].split(b"\0", 1)[0].decode("utf-8", "replace"),
                                   FORMATS.get(ci[1], "UNKNOWN"), ci[1], ci[2], ci[3], planes, ci[21], ci[22]))
        old = self._map
        self._map = m
        self.cameras = cams
        self.nslots, self.ncams = h[6], h[7]
        self.slot_size, self.slots_offset, self.total_size = h[9], h[10], h[11]
        self.writer_pid, self.rate = h[12], (h[13], h[14])
        self.epoch_ns, self.generation = h[16], h[17]
        pub = _load64(m.addr + _OFF_PUBLISHED)
        self._next = pub - 1 if pub else 0  # start at the newest set
        self._skipped = 0
        if old is not None:
            old.close()

    def _check(self, mm, size):
        (magic, version, header_size, cam_info_size, slot_header_size, slot_cam_size, nslots, ncams, _r0,
         slot_size, slots_offset, total_size) = _HEADER.unpack_from(mm, 0)[:12]
        why = None
        if magic != MAGIC:
            why = "not a lockstep segment (bad magic)"
        elif version != VERSION:
            why = "layout version differs"
        elif (header_size, cam_info_size, slot_header_size, slot_cam_size) != (
                HEADER_SIZE, CAM_INFO_SIZE, SLOT_HEADER_SIZE, SLOT_CAM_SIZE):
            why = "struct sizes differ from this reader's"
        elif (total_size != size or nslots == 0 or ncams == 0
              or slots_offset + nslots * slot_size > total_size
              or HEADER_SIZE + ncams * CAM_INFO_SIZE > slots_offset
              or SLOT_HEADER_SIZE + ncams * SLOT_CAM_SIZE > slot_size):
            why = "inconsistent sizes"
        if why:
            raise LayoutError(errno.EPROTO, "shm %s: refused: %s (segment version %d, reader version %d)"
                              % (self.name, why, version, VERSION))
        for c in range(ncams):
            ci = _CAM_INFO.unpack_from(mm, HEADER_SIZE + c * CAM_INFO_SIZE)
            data_offset, data_size = ci[21], ci[22]
            bad = data_offset + data_size > slot_size or ci[4] > MAX_PLANES
            for p in range(min(ci[4], MAX_PLANES)):
                off, stride, rows = ci[5 + 4 * p], ci[6 + 4 * p], ci[7 + 4 * p]
                bad = bad or off + stride * rows > data_size
            if bad:
                raise LayoutError(errno.EPROTO, "shm %s: refused: camera %d lies outside its slot" % (self.name, c))

    def _try_reattach(self):
        """Is a different segment (a new writer) under our name now?"""
        try:
            st = os.stat(self.path)
        except OSError:
            return False
        m = self._map
        if m is not None and (st.st_dev, st.st_ino) == (m.dev, m.ino):
            return False
        try:
            self._attach()
        except (OSError, ValueError) as e:  # e.g. the new writer has not finished its header
            self.error = str(e)
            return False
        return True

    def close(self):
        """Lets go of the segment; never unlinks it. Unmaps now unless numpy
        views are still alive (then the mapping goes with the last one)."""
        if self._map is not None:
            self._map.close()
            self._map = None

    @property
    def closed(self):
        return self._map is None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    # -- state

    @property
    def atomic_waiters(self):
        """True when `waiters` is maintained with real atomics (libatomic)
        and waits may last 250 ms; False in the bounded-wait fallback."""
        m = self._map
        return bool(_atomics) and m is not None and m.writable

    @property
    def published(self):
        """Sets the writer has published so far."""
        return _load64(self._live().addr + _OFF_PUBLISHED)

    def _live(self):
        if self._map is None:
            raise ValueError("lockstep_shm: reader is closed")
        return self._map

    def _writer_alive(self, m):
        if _load32(m.addr + _OFF_CLOSED):
            return False, "closed by the writer"
        pid = self.writer_pid
        if pid > 0:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return False, "writer process %d is dead" % pid
            except PermissionError:
                pass  # alive, someone else's
        age = time.monotonic_ns() - _load64(m.addr + _OFF_HEARTBEAT)
        if age > GONE_NS:
            return False, "no heartbeat for %.1f s" % (age / 1e9)
        return True, ""

    # -- reading

    def next(self, timeout=None):
        """Waits up to `timeout` seconds (None: forever) for the next set.

        Returns a FrameSet; Overrun(skipped) when the reader fell behind (the
        following call returns the newest set); Torn(set) when a
        set was overwritten while its header was read; WriterGone(reason,
        pid) once when the writer is gone (closed flag, dead pid, or
        heartbeat older than 1 s), after which the reader looks for a new
        writer under the name and returns Reattached(generation) once it
        finds one; None on timeout."""
        m = self._live()
        until = None if timeout is None or timeout < 0 else time.monotonic_ns() + int(timeout * 1e9)
        retries = 0
        while True:
            if m.closed:
                raise ValueError("lockstep_shm: reader is closed")
            gen = _load64(m.addr + _OFF_GENERATION)
            if gen != self.generation:
                # same segment, new generation: read its header again
                try:
                    self._attach()
                except (OSError, ValueError) as e:
                    self.error = str(e)
                    self.generation = gen  # report it once, not on every call
                self._gone = False
                self.stats["reattached"] += 1
                return Reattached(self.generation)
            fut = _load32(m.addr + _OFF_FUTEX)
            pub = _load64(m.addr + _OFF_PUBLISHED)
            nslots = self.nslots
            if self._next >= pub and self._try_reattach():
                # nothing to read and a new writer took the name (checked
                # only when idle: it costs system calls)
                self._gone = False
                self.stats["reattached"] += 1
                return Reattached(self.generation)
            if self._next < pub:
                if pub - self._next > nslots - 1:
                    # overwritten before we got to them: resume at the newest
                    # (the oldest left is the next one the writer rewrites, so
                    # a reader slower than the writer would lose every set)
                    skipped = pub - 1 - self._next
                    self._next = pub - 1
                    self._skipped += skipped
                    self.stats["overruns"] += 1
                    self.stats["skipped"] += skipped
                    return Overrun(skipped)
                k = self._next % nslots
                slot_base = self.slots_offset + k * self.slot_size
                seq_addr = m.addr + slot_base
                _fence_acquire()
                s1 = _load64(seq_addr)
                mm = m.mm
                hdr = _SLOT.unpack_from(mm, slot_base)
                if (s1 & 1) or hdr[1] != self._next:
                    # rewritten since `published` was read: the overrun check sees it next time
                    retries += 1
                    if retries < 4:
                        continue
                    # a segment that contradicts itself: don't spin on it
                    retries = 0
                    time.sleep(0.01)
                    continue
                frames = []
                off = slot_base + SLOT_HEADER_SIZE
                for c, info in enumerate(self.cameras):
                    state, _, cap, offs, csum = _SLOT_CAM.unpack_from(mm, off + c * SLOT_CAM_SIZE)
                    frames.append(Frame(m, slot_base, info, state, cap, offs, csum))
                self._next += 1
                _fence_acquire()
                if _load64(seq_addr) != s1:  # overwritten while we read the header
                    self.stats["torn"] += 1
                    return Torn(hdr[1])
                fs = FrameSet(m, k, s1, seq_addr, hdr, frames, self._skipped)
                self._skipped = 0
                self._gone = False  # sets flow again (e.g. a stopped writer resumed)
                self.stats["sets"] += 1
                return fs
            alive, why = self._writer_alive(m)
            if not alive:
                if not self._gone:
                    self._gone = True
                    self.error = "shm %s: writer gone (pid %d): %s" % (self.name, self.writer_pid, why)
                    self.stats["gone"] += 1
                    return WriterGone(why, self.writer_pid)
                if self._try_reattach():
                    self._gone = False
                    self.stats["reattached"] += 1
                    return Reattached(self.generation)
            now = time.monotonic_ns()
            if until is not None and now >= until:
                self.stats["timeouts"] += 1
                return None
            atomic = self.atomic_waiters
            # sleep at most 250 ms at a time to notice a dead writer (50 ms without real atomics)
            cap = 250_000_000 if atomic else 50_000_000
            wait = cap if until is None else min(until - now, cap)
            waddr = m.addr + _OFF_WAITERS
            if atomic:
                _atomics[0](waddr, 1, _SEQ_CST)
            elif m.writable:
                w = ctypes.c_uint32.from_address(waddr)
                w.value = (w.value + 1) & 0xFFFFFFFF
            try:
                if _load64(m.addr + _OFF_PUBLISHED) == pub:
                    _futex_wait(m.addr + _OFF_FUTEX, fut, wait)
            finally:
                if atomic:
                    _atomics[1](waddr, 1, _SEQ_CST)
                elif m.writable:
                    w = ctypes.c_uint32.from_address(waddr)
                    if w.value:
                        w.value -= 1
            m = self._live()

    def framesets(self, timeout=None, on_gone="return"):
        """Yields FrameSets. Overruns and torn sets are skipped (counted in
        .stats; FrameSet.skipped tells how many sets were lost just before
        it). Ends when no set arrives within `timeout` seconds (None: waits
        forever). When the writer is gone: on_gone="return" ends the
        iteration, "raise" raises WriterGoneError, "wait" keeps waiting for a
        new writer under the same name (and goes on with its sets)."""
        if on_gone not in ("return", "raise", "wait"):
            raise ValueError("on_gone: 'return', 'raise' or 'wait'")
        while True:
            res = self.next(timeout)
            if res is None:
                return
            if isinstance(res, FrameSet):
                yield res
            elif isinstance(res, WriterGone):
                if on_gone == "return":
                    return
                if on_gone == "raise":
                    raise WriterGoneError(errno.EPIPE, self.error)

    def __iter__(self):
        return self.framesets()

    def __repr__(self):
        return "<lockstep_shm.Reader %s %s>" % (self.name, "closed" if self._map is None else
                                                "%d cams, %d slots" % (self.ncams, self.nslots))
