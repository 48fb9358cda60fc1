"""Uploaded tariffs and accounting policies (``registry_documents``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.models import RegistryDocument


def document(conn: Connection, kind: str, name: str) -> dict[str, Any] | None:
    """The stored content of ``kind`` ``name``, or None."""
    return conn.execute(select(RegistryDocument.content).where(
        RegistryDocument.kind == kind, RegistryDocument.name == name)).scalar()


def documents(session: Session, kind: str) -> Sequence[RegistryDocument]:
    return session.scalars(select(RegistryDocument).where(RegistryDocument.kind == kind)
                           .order_by(RegistryDocument.name)).all()


def insert_document(session: Session, kind: str, name: str, version: str,
                    content: dict[str, Any], api_key_id: int | None) -> bool:
    """Store a document; False (nothing written) when ``kind`` ``name`` exists already."""
    new_id = session.scalar(
        insert(RegistryDocument).values(kind=kind, name=name, version=version, content=content,
                                        api_key_id=api_key_id)
        .on_conflict_do_nothing(index_elements=["kind", "name"])
        .returning(RegistryDocument.id))
    return new_id is not None
