"""The ``zcpark`` command line: serve, migrate, keys."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import migrate as migrations
from app.auth import create_api_key
from app.config import Settings, get_settings
from app.db import make_engine
from app.embedded_pg import EmbeddedPostgres

cli = typer.Typer(help="zcpark: energy and carbon service of the Lhasa ETDZ zero-carbon park",
                  no_args_is_help=True)
keys_cli = typer.Typer(help="API keys", no_args_is_help=True)
cli.add_typer(keys_cli, name="keys")


@contextmanager
def database(settings: Settings) -> Iterator[Settings]:
    """Settings with a database URL: the configured one, or an embedded server started here
    (and stopped on exit)."""
    if settings.database_url:
        yield settings
        return
    server = EmbeddedPostgres(settings.data_dir)
    url = server.start()
    typer.echo(f"embedded PostgreSQL running in {server.pgdata}", err=True)
    try:
        yield settings.model_copy(update={"database_url": url})
    finally:
        server.stop()


@cli.command()
def serve(host: str = "127.0.0.1", port: int = 8000,
          demo: bool = typer.Option(False, help="load the demo park (2026), print a key"),
          ) -> None:
    """Migrate the database, then serve the API (embedded PostgreSQL without DATABASE_URL)."""
    import uvicorn

    from app.main import create_app

    # uvicorn re-raises SIGTERM after its graceful shutdown; turn it into SystemExit so the
    # embedded server is stopped by `database()` below instead of the process dying first.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    with database(get_settings()) as settings:
        assert settings.database_url is not None
        engine = make_engine(settings.database_url)
        migrations.upgrade(engine, use_timescale=settings.timescale)
        if demo:
            from app.demo import load_demo_park

            with Session(engine) as session:
                key = load_demo_park(session, engine=engine, settings=settings)
                session.commit()
            typer.echo(f"demo park loaded; operator key (shown once): {key}")
            typer.echo(f"try: curl -H 'Authorization: Bearer {key}' "
                       f"'http://{host}:{port}/v1/park/energy?start=2026-01-01T00:00:00%2B08:00"
                       f"&end=2027-01-01T00:00:00%2B08:00&by=zone'")
        app = create_app(settings, engine=engine)
        uvicorn.run(app, host=host, port=port)
        engine.dispose()


@cli.command()
def migrate() -> None:
    """Bring the database schema to the newest revision."""
    with database(get_settings()) as settings:
        assert settings.database_url is not None
        engine = make_engine(settings.database_url)
        migrations.upgrade(engine, use_timescale=settings.timescale)
        engine.dispose()
        typer.echo("database is at the newest revision")


@keys_cli.command("create")
def keys_create(role: str = typer.Option(..., help="operator | enterprise | planner"),
                enterprise: str | None = typer.Option(None, help="enterprise code"),
                label: str | None = None) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    from app.models import Enterprise

    with database(get_settings()) as settings:
        assert settings.database_url is not None
        engine = make_engine(settings.database_url)
        migrations.upgrade(engine, use_timescale=settings.timescale)
        with Session(engine) as session:
            ent_id = None
            if enterprise:
                ent_id = session.scalar(select(Enterprise.id).where(Enterprise.code == enterprise))
                if ent_id is None:
                    raise typer.BadParameter(f"no enterprise {enterprise!r}")
            try:
                key = create_api_key(session, role, ent_id, label=label)
            except ValueError as exc:
                raise typer.BadParameter(str(exc)) from None
            session.commit()
        engine.dispose()
        typer.echo(key)


def main() -> None:
    cli()
