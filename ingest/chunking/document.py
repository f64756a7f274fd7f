"""Document -> Chunks sized in the embedder's tokens.

SOP-like text is first parsed into blocks (headings, whole steps, paragraph lines; see
structure.py). A step is never split unless it alone exceeds the budget, and then only at
sentence ends (Chinese and English punctuation); only a sentence longer than the whole budget
is cut by length. Chunks never cross a PDF page (a citation's page is exact) nor a heading (its
section is exact); overlap between chunks repeats paragraph lines, never a whole step.
Transcripts are chunked by exchange: an interviewer's question stays with the answer it
prompted, and a long answer continues in further chunks that carry the question as context.
"""

from __future__ import annotations

from ingest.chunking.structure import Block, Line, parse_blocks
from ingest.chunking.turns import chunk_transcript
from ingest.chunking.units import ChunkingConfig, TokenCounter, Unit, make_chunk, pack, split_long
from retriever.records import Chunk, Document

# kinds whose loaders write their headings as Markdown (`# Sheet`, `## 4. 調機步驟`)
MARKDOWN_KINDS = ("markdown", "docx", "xlsx", "csv", "html", "pptx")
PART_HEADING_KINDS = ("xlsx", "pptx")  # one `#` heading per sheet or slide
UNCHUNKED_KINDS = ("glossary",)  # its terms translate questions; they are not passages


def chunk_document(doc: Document, count: TokenCounter, config: ChunkingConfig) -> list[Chunk]:
    if doc.kind in UNCHUNKED_KINDS:
        return []
    if doc.turns:
        return chunk_transcript(doc, count, config)
    blocks = document_blocks(doc)
    chunks: list[Chunk] = []
    for group in pack(units_of(doc.text, blocks, count, config.max_tokens), config):
        chunk = make_chunk(doc, group, len(chunks), group[0].section)
        if chunk is not None:
            chunks.append(chunk)
    return chunks


def document_blocks(doc: Document) -> list[Block]:
    """The document's headings, steps and paragraph lines, parsed as its kind is written."""
    return parse_blocks(document_lines(doc), doc.kind in MARKDOWN_KINDS, doc.kind == "pdf",
                        lone_title=doc.kind not in PART_HEADING_KINDS)  # fmt: skip


def document_lines(doc: Document) -> list[Line]:
    lines: list[Line] = []
    for page_start, page in zip(doc.page_offsets(), doc.pages, strict=True):
        pos, blank, first = 0, False, True
        for raw in page.splitlines(keepends=True):
            if raw.strip():
                lines.append(Line(page_start + pos, page_start + pos + len(raw), raw, first,
                                  blank, raw[:1] in (" ", "\t", "\u3000")))  # fmt: skip
                blank, first = False, False
            else:
                blank = True
            pos += len(raw)
    return lines


def units_of(text: str, blocks: list[Block], count: TokenCounter, max_tokens: int) -> list[Unit]:
    tokens = count([text[b.start : b.end] for b in blocks])
    units: list[Unit] = []
    for block, n in zip(blocks, tokens, strict=True):
        unit = Unit(block.start, block.end, n, block.section, block.step, block.breaks_before,
                    marker=block.marker)
        units.extend(split_long(text, unit, count, max_tokens) if n > max_tokens else [unit])
    return units
