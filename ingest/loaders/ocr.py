"""Page images -> text by OCR: rapidocr's PP-OCRv6 models, shipped inside its wheel (no download
at run time), imported late behind this one seam. A result is cached by the image's pixels, so
re-ingesting a scan whose sidecar or name changed never OCRs it again. A page turned a quarter
(its text lines detected as tall boxes) is read turned back, whichever way reads better; a page
upside down (most lines classified as turned 180°) is read turned over, so its order is top-down."""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ingest.loaders.ocr_layout import OcrBox, OcrText, page_text
from ingest.loaders.progress import NoProgress, Progress
from retriever.fsutil import atomic_write
from retriever.lazy import require

INSTALL_HINT = "rapidocr==3.10.0 onnxruntime"
CACHE_VERSION = "2"  # bump when the layout or the floor changes what a cached page would hold
_TALL = 2.0  # a detected line this many times taller than wide is a line of a turned page
MIN_SIDE = 32  # px: below this no printed line fits (10-pt text at 200 dpi is 28 px tall)
# a page is 1.4, a receipt about 5; a tall sliver of 1:16 already took the engine 1.5 GB and
# 17 s, and 1:50 more than 6 GB (measured): what is thinner than 1:20 is not read
MAX_ASPECT = 20
UPSIDE_DOWN_SAMPLE = 8  # lines whose orientation decides whether a page is upside down


class OcrError(ValueError):
    """The image cannot be read by OCR."""


@dataclass(frozen=True)
class OcrPage:
    text: str
    confidence: float | None
    dropped: int  # lines under the confidence floor


class PageReader:
    """OCR of page images (PIL), with results cached under `cache_dir` when given."""

    def __init__(self, cache_dir: Path | None = None, progress: Progress | None = None) -> None:
        self._cache_dir = cache_dir
        self._lock = threading.Lock()  # one engine call at a time: it already uses every core
        self._progress = progress or NoProgress()
        self._expected = 0

    def expect(self, pages: int) -> None:
        """More pages to read: the progress total grows by them."""
        self._expected += pages
        self._progress.start(self._expected)

    def read(self, image: Any) -> OcrPage:
        key = _pixel_hash(image)
        page = self._cached(key)
        if page is None and not readable(image.size):
            page = OcrPage("", None, 0)  # no line of text fits; the engine would blow up on it
        if page is None:
            with self._lock:
                page = _guarded(image)
            self._store(key, page)
        self._progress.advance(1)
        return page

    def _cached(self, key: str) -> OcrPage | None:
        if self._cache_dir is None:
            return None
        try:
            data = json.loads((self._cache_dir / f"{key}.json").read_text(encoding="utf-8"))
            return OcrPage(data["text"], data["confidence"], data["dropped"])
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent or damaged: OCR again

    def _store(self, key: str, page: OcrPage) -> None:
        if self._cache_dir is None:
            return
        self._cache_dir.mkdir(parents=True, exist_ok=True)
        text = json.dumps(asdict(page))  # ASCII escapes: the file never depends on a locale
        atomic_write(self._cache_dir / f"{key}.json", text)


def dropped_note(dropped: int) -> tuple[str, ...]:
    """The warning a document carries when OCR left lines out under the confidence floor."""
    return (f"OCR dropped {dropped} low-confidence lines",) if dropped else ()


def readable(size: tuple[int, int]) -> bool:
    """An image a line of text can sit in, in a shape the engine survives: it scales a sliver
    (3 × 2000 px) up to gigabytes (2.2 GiB for one array, then the OOM killer)."""
    short, long = sorted(size)
    return short >= MIN_SIDE and long <= MAX_ASPECT * short


def _guarded(image: Any) -> OcrPage:
    """One page's OCR; whatever the engine raises is this file's error, not the batch's."""
    try:
        _engine()  # not installed: require's message says what to install
    except RuntimeError as exc:
        raise OcrError(str(exc)) from exc
    try:
        return _recognise(image.convert("RGB"))
    except (RuntimeError, ValueError, TypeError, OSError, IndexError, MemoryError) as exc:
        # onnxruntime reports a failed allocation as a RuntimeError
        raise OcrError(f"OCR failed on a page ({type(exc).__name__}: {exc})") from exc


def _pixel_hash(image: Any) -> str:
    digest = hashlib.sha256(f"{CACHE_VERSION}|{image.mode}|{image.size}".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()


def _recognise(image: Any) -> OcrPage:
    boxes = _boxes(image)
    if _turned(boxes):
        turned = [image.rotate(angle, expand=True) for angle in (90, 270)]
        found = [_boxes(candidate) for candidate in turned]
        best = max((0, 1), key=lambda i: _read_weight(found[i]))
        image, boxes = turned[best], found[best]
    if _upside_down(image, boxes):
        # each line already reads right (the angle classifier turns it), but bottom-up
        image = image.rotate(180)
        boxes = _boxes(image)
    text: OcrText = page_text(boxes, image.size[0])
    return OcrPage(text.text, text.confidence, text.dropped)


def _upside_down(image: Any, boxes: list[OcrBox]) -> bool:
    """Most of the page's widest lines are classified as turned 180°."""
    numpy = require("numpy", "numpy")
    widest = sorted((b for b in boxes if len(b.text.strip()) >= 3),
                    key=lambda b: b.x0 - b.x1)[:UPSIDE_DOWN_SAMPLE]  # fmt: skip
    if not widest:
        return False
    crops = [numpy.asarray(image.crop((b.x0, b.y0, b.x1, b.y1))) for b in widest]
    classified = _engine()._load_cls_model()(crops).cls_res  # rapidocr 3.10's line classifier
    return sum("180" in str(label) for label, _ in classified) * 2 > len(crops)


def _turned(boxes: list[OcrBox]) -> bool:
    lines = [b for b in boxes if len(b.text.strip()) >= 3]
    tall = sum(b.height > _TALL * (b.x1 - b.x0) for b in lines)
    return bool(lines) and tall > len(lines) / 2


def _read_weight(boxes: list[OcrBox]) -> float:
    return sum(b.confidence * len(b.text) for b in boxes)


def _boxes(image: Any) -> list[OcrBox]:
    numpy = require("numpy", "numpy")
    result = _engine()(numpy.asarray(image))
    if result.boxes is None or result.txts is None or result.scores is None:
        return []
    found = []
    for quad, text, score in zip(result.boxes, result.txts, result.scores, strict=True):
        xs, ys = [float(p[0]) for p in quad], [float(p[1]) for p in quad]
        found.append(OcrBox(min(xs), min(ys), max(xs), max(ys), str(text), float(score)))
    return found


@functools.cache
def _engine() -> Any:
    """One engine per process; every line is returned so the layout applies one floor."""
    rapidocr = require("rapidocr", INSTALL_HINT)
    require("onnxruntime", INSTALL_HINT)
    return rapidocr.RapidOCR(params={"Global.log_level": "error", "Global.text_score": 0.0})
