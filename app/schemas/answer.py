"""Base of the API's JSON answers."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Answer(BaseModel):
    """An answer whose documented fields are typed; a field a newer service adds (or a
    library's free-form detail, such as a policy's settings) passes through unchanged, so a
    model never drops what the service computed."""

    model_config = ConfigDict(extra="allow")
