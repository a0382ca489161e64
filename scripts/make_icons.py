"""Draw OpsKnight's app icons (a white shield on the accent colour) as PNGs in assets/icons/.

Run once by hand when the design changes (`.venv/bin/python scripts/make_icons.py`); the PNGs are committed. Pure
Python (zlib + struct): no image library needed for a shape this simple.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "assets" / "icons"
ACCENT = (62, 99, 221)  # indigo 9, the theme colour
WHITE = (255, 255, 255)


def inside_shield(x: float, y: float) -> bool:
    """A shield in the unit square: flat top, straight sides, a point at the bottom."""
    if not 0.18 <= x <= 0.82 or not 0.12 <= y <= 0.90:
        return False
    if y <= 0.55:
        return True
    half = 0.32 * (0.90 - y) / 0.35  # the sides close in towards the point
    return abs(x - 0.5) <= half


def draw(size: int, safe_zone: float = 1.0, rounded: bool = True) -> bytes:
    """RGBA pixels. `safe_zone` < 1 shrinks the shield into the middle (maskable icons are cropped to a circle)."""
    rows = []
    radius = size * 0.18 if rounded else 0
    for py in range(size):
        row = bytearray([0])  # filter type 0 for the scanline
        for px in range(size):
            x, y = (px + 0.5) / size, (py + 0.5) / size
            sx, sy = 0.5 + (x - 0.5) / safe_zone, 0.5 + (y - 0.5) / safe_zone
            cx = min(max(px + 0.5, radius), size - radius)
            cy = min(max(py + 0.5, radius), size - radius)
            outside_corner = radius and (px + 0.5 - cx) ** 2 + (py + 0.5 - cy) ** 2 > radius ** 2
            if outside_corner:
                row += bytes((0, 0, 0, 0))
            elif inside_shield(sx, sy):
                row += bytes((*WHITE, 255))
            else:
                row += bytes((*ACCENT, 255))
        rows.append(bytes(row))
    return b"".join(rows)


def png(size: int, pixels: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(pixels, 9)) + chunk(b"IEND", b"")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, size, safe, rounded in (("icon-192.png", 192, 1.0, True), ("icon-512.png", 512, 1.0, True),
                                      ("maskable-512.png", 512, 0.8, False), ("apple-touch-icon.png", 180, 1.0, False),
                                      ("badge-96.png", 96, 1.0, True)):
        (OUT / name).write_bytes(png(size, draw(size, safe, rounded)))
        print(f"wrote {OUT / name}")


if __name__ == "__main__":
    main()
