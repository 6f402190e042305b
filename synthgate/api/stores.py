"""Which store a library call works in: a Store the caller holds, a DuckDB file, or memory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from synthgate.store import Store

IN_MEMORY = ":memory:"


@contextmanager
def using_store(db: Store | str | os.PathLike[str] | None) -> Iterator[Store]:
    """`db` itself when it is an open Store (left open: the caller owns it), else the store at that
    path (None: the default file, as the commands' --db; ":memory:" for a store that lives only
    for this call), opened here and closed on the way out, so no lock is held between calls."""
    from synthgate.store import Store
    from synthgate.store.connection import DEFAULT_PATH

    if isinstance(db, Store):
        yield db
        return
    with Store.open(DEFAULT_PATH if db is None else db) as store:
        yield store
