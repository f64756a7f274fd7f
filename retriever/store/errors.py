"""The store's errors: what a caller of ingest, search or migrate may have to tell a user."""

from __future__ import annotations


class StoreError(RuntimeError):
    """The index cannot be opened or written."""


class WriterBusyError(StoreError):
    """Another ingest holds the writer lock."""


class ModelMismatchError(StoreError):
    """The index was built with another embedding model."""
