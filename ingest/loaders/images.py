"""Image files (PNG, JPEG, TIFF with all its pages) -> text by OCR, one page per frame. The
size is checked from the header before any pixel is decoded, so a decompression bomb is refused
without the memory it asks for."""

from __future__ import annotations

import warnings
from pathlib import Path

from ingest.loaders.extracted import Extracted
from ingest.loaders.ocr import OcrPage, PageReader, dropped_note
from retriever.lazy import require

MAX_PIXELS = 80_000_000  # 600 dpi A3 is 70 MP; beyond it is a bomb or a poster, not a page
MAX_FRAMES = 2_000


class ImageError(ValueError):
    """The image cannot be read."""


def image_pages(path: Path, reader: PageReader) -> Extracted:
    pil = require("PIL.Image", "pillow")
    sequence = require("PIL.ImageSequence", "pillow")
    pages: list[OcrPage] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pil.DecompressionBombWarning)
            with pil.open(path) as image:
                for number, frame in enumerate(sequence.Iterator(image), start=1):
                    if number > MAX_FRAMES:
                        raise ImageError(f"more than {MAX_FRAMES} pages")
                    check_size(frame.size)
                    reader.expect(1)
                    pages.append(reader.read(frame))
    except ImageError:
        raise
    except (pil.DecompressionBombError, pil.DecompressionBombWarning) as exc:
        raise ImageError(f"image over the {MAX_PIXELS // 1_000_000} MP limit, a decompression "
                         f"bomb or a poster, not a page ({exc})") from exc  # fmt: skip
    except (OSError, ValueError, SyntaxError) as exc:  # PIL's errors for damaged files
        raise ImageError(f"corrupt or unreadable image ({type(exc).__name__}: {exc})") from exc
    return _extracted(pages)


def check_size(size: tuple[int, int]) -> None:
    width, height = size
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"image of {width} × {height} px is over the {MAX_PIXELS // 1_000_000} MP limit; "
            "scan at 300 dpi or less"
        )


def _extracted(pages: list[OcrPage]) -> Extracted:
    dropped = dropped_note(sum(p.dropped for p in pages))
    return Extracted([p.text for p in pages], kind="image", ocr=tuple(p.confidence for p in pages),
                     warnings=dropped)  # fmt: skip
