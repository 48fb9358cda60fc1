"""Application services: vectorised logic between routers and repositories (no SQL here)."""
