"""Pydantic request and answer models of the API, one module per domain."""
