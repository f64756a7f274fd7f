"""Retrieval on scans, and the speed of ingesting a folder of them, side by side in one run.

    python -m bench.scan_retrieval [FOLDER] [--dpi 200] [--precision auto]

Renders every page of every PDF in FOLDER (default ../shared/evaldata/osha-pdfs) to a grey
image at --dpi and saves each file again as an image-only PDF (a scanner's output) under the
same name. Ingests the text-layer folder and the scanned folder into two throwaway homes with
the real model, then asks both the same ten questions (written for this bench, not tuned to it)
and prints each one's top citation (document and page) from both, and how many agree.
Speed: OCR seconds (engine time, summed), the scanned folder's ingest wall time and pages/s,
and the text-layer ingest's time, so the overlap of OCR with embedding shows as
wall < OCR + embedding.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium

from ingest.loaders import ocr
from ingest.pipeline import ingest
from ingest.summary import IngestSummary
from retriever.models.encoder import DEFAULT_MODEL, load_encoder
from retriever.ranking.search import search
from retriever.store.index_store import IndexStore

DEFAULT_FOLDER = Path(__file__).resolve().parents[2] / "shared" / "evaldata" / "osha-pdfs"
QUESTIONS = [
    "What is a job hazard analysis?",
    "Why is a job hazard analysis important?",
    "How do I identify workplace hazards?",
    "What is lockout/tagout?",
    "Are minor tool changes during normal production covered by the lockout/tagout standard?",
    "How often must the energy control procedure be inspected?",
    "Who may remove a lockout device?",
    "What information must a confined space entry permit contain?",
    "What are the duties of the attendant of a permit space?",
    "¿Qué deben hacer los empleadores para bloquear y etiquetar las máquinas?",
]


def scanned_copy(source: Path, target: Path, dpi: int) -> int:
    """Each PDF again, as images of its pages; returns the page count."""
    pages = 0
    for path in sorted(source.glob("*.pdf")):
        document = pdfium.PdfDocument(path)
        images = [document[i].render(scale=dpi / 72).to_pil().convert("L")
                  for i in range(len(document))]  # fmt: skip
        document.close()
        images[0].save(target / path.name, "PDF", resolution=float(dpi), save_all=True,
                       append_images=images[1:])  # fmt: skip
        pages += len(images)
    return pages


def timed_ocr() -> list[float]:
    """The engine's seconds, page by page (monkeypatched into the OCR seam for this run)."""
    seconds: list[float] = []
    real = ocr._recognise

    def recognise(image: Any) -> ocr.OcrPage:
        began = time.perf_counter()
        try:
            return real(image)
        finally:
            seconds.append(time.perf_counter() - began)

    ocr._recognise = recognise  # type: ignore[assignment]
    return seconds


def top_citations(store: IndexStore, encoder: Any) -> list[tuple[str, int | None]]:
    snapshot = store.snapshot()
    assert snapshot is not None
    found = []
    for question in QUESTIONS:
        passages = search(snapshot, encoder, question, k=1).passages
        found.append((passages[0].citation.source, passages[0].citation.page))
    return found


def ingest_timed(folder: Path, home: Path, encoder: Any) -> tuple[IndexStore, IngestSummary]:
    store = IndexStore(home)
    began = time.perf_counter()
    summary = ingest([folder], store, encoder)
    summary.seconds = time.perf_counter() - began
    return store, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--dpi", type=int, default=200)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--models-dir", type=Path, default=Path(".shifu/models"))
    args = parser.parse_args()
    encoder = load_encoder(DEFAULT_MODEL, args.models_dir, precision=args.precision)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "scans").mkdir()
        pages = scanned_copy(args.folder, root / "scans", args.dpi)
        text_store, text = ingest_timed(args.folder, root / "text-home", encoder)
        ocr_seconds = timed_ocr()
        scan_store, scan = ingest_timed(root / "scans", root / "scan-home", encoder)
        report(pages, text, scan, sum(ocr_seconds), encoder.precision)
        agree = 0
        pairs = zip(top_citations(text_store, encoder), top_citations(scan_store, encoder),
                    strict=True)  # fmt: skip
        for question, (layer, scanned) in zip(QUESTIONS, pairs, strict=True):
            agree += layer == scanned
            print(f"  {'same' if layer == scanned else 'DIFF'}  {question}\n"
                  f"        text layer {layer}   scan {scanned}")  # fmt: skip
        print(f"same top citation (document and page): {agree} of {len(QUESTIONS)}")


def report(pages: int, text: IngestSummary, scan: IngestSummary, ocr_s: float, prec: str) -> None:
    print(f"precision {prec}; {pages} pages rendered to image-only PDFs")
    print(f"text-layer ingest: {text.chunks} chunks in {text.seconds:.1f} s")
    print(f"scanned ingest: {scan.ocr_pages} pages by OCR, {scan.chunks} chunks in "
          f"{scan.seconds:.1f} s wall = {scan.ocr_pages / scan.seconds:.2f} pages/s end to end; "
          f"OCR engine {ocr_s:.1f} s = {scan.ocr_pages / ocr_s:.2f} pages/s; "
          f"OCR + text-layer ingest would be {ocr_s + text.seconds:.1f} s in series")  # fmt: skip
    if scan.failures:
        print(f"failures: {scan.failures}")


if __name__ == "__main__":
    main()
