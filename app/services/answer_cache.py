"""Answers remembered per process and per data version: a ledger or a park total is computed
once for the data it reads and served again, copied, until a write that can change it commits.

The key is the question (entity, period, options) plus :func:`data_version`, read from the
database before the data, so an answer is never served for data other than what it was
computed from, in any worker; a write in one worker changes the version every worker reads.
"""

from __future__ import annotations

import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

from sqlalchemy import Connection

from app.repositories.readings_store import ReadingsStore

T = TypeVar("T")

MAX_ANSWERS = 256
"""Answers kept per process (least recently used dropped first)."""

_answers: OrderedDict[tuple[Hashable, ...], bytes] = OrderedDict()
"""Answers kept pickled: one bytes object each, which the garbage collector does not walk (tens
of thousands of live dicts and floats made every collection of a busy worker slower), and
unpickling is a faster copy than ``copy.deepcopy``."""
_lock = threading.Lock()


def remembered(conn: Connection, question: tuple[Hashable, ...], compute: Callable[[], T], *,
               store: ReadingsStore) -> T:
    """``compute()``'s answer to ``question`` for the data as it is now: from memory when the
    data version has not changed since it was computed, else computed (and remembered when it
    succeeds). Returns a copy the caller may change."""
    key = (*question, store.data_version(conn))
    with _lock:
        hit = _answers.get(key)
        if hit is not None:
            _answers.move_to_end(key)
    if hit is not None:
        return pickle.loads(hit)  # type: ignore[no-any-return]
    answer = compute()
    kept = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
    with _lock:
        _answers[key] = kept
        while len(_answers) > MAX_ANSWERS:
            _answers.popitem(last=False)
    return answer
