"""Request dependencies for what ``create_app`` chose once: the readings store."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.repositories.readings_store import ReadingsStore


def readings_store(request: Request) -> ReadingsStore:
    """The store of this database's readings layout (detected once in ``create_app``)."""
    store: ReadingsStore = request.app.state.readings_store
    return store


ReadingsStoreDep = Annotated[ReadingsStore, Depends(readings_store)]
