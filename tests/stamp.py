"""Reads the strip test://?pattern=clock draws (lib/ls_stamp.h) from a luma
plane, and the frames of a .y4m file: what a test (or a person measuring
their own setup) needs to tell which slot a picture shows and when it was
captured. Mirrors ls_stamp_read(); see lib/ls_stamp.h for the layout.
Plain Python (no numpy), so any python3 runs it."""

ROWS, CELLS, ROW_DIV = 4, 32, 24


def crc16(data):
    c = 0xFFFF
    for b in data:
        c ^= b << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021) & 0xFFFF if c & 0x8000 else (c << 1) & 0xFFFF
    return c


def read(y, w, h):
    """(slot, capture_us) from a luma plane (bytes, w x h, packed), or None."""
    if w < CELLS * 2 or h < ROW_DIV:
        return None

    def sample(r, c):
        x0, x1 = c * w // CELLS, (c + 1) * w // CELLS
        y0, y1 = r * h // ROW_DIV, (r + 1) * h // ROW_DIV
        qx, qy = (x1 - x0) // 4, (y1 - y0) // 4
        x0, x1, y0, y1 = x0 + qx, x1 - qx, y0 + qy, y1 - qy
        total = sum(sum(y[yy * w + x0:yy * w + x1]) for yy in range(y0, y1))
        return total // ((x1 - x0) * (y1 - y0))

    bits = []
    for r in range(ROWS):
        white, black = sample(r, 0), sample(r, CELLS - 1)
        if white - black < 64:
            return None
        thr = (white + black) // 2
        bits += [1 if sample(r, c) > thr else 0 for c in range(1, CELLS - 1)]
    m = bytes(int("".join(map(str, bits[i:i + 8])), 2) for i in range(0, 120, 8))
    if crc16(m[:13]) != (m[13] << 8 | m[14]):
        return None
    return int.from_bytes(m[:6], "big", signed=True), int.from_bytes(m[6:13], "big", signed=True)


def y4m_frames(path):
    """Yields (luma bytes, width, height) for each frame of an I420 .y4m."""
    with open(path, "rb") as f:
        header = f.readline().split()
        w = int([t for t in header if t.startswith(b"W")][0][1:])
        h = int([t for t in header if t.startswith(b"H")][0][1:])
        size = w * h * 3 // 2
        while True:
            line = f.readline()
            if not line.startswith(b"FRAME"):
                return
            data = f.read(size)
            if len(data) < size:
                return
            yield data[:w * h], w, h
