"""The ``zcpark`` command line: serve, migrate, keys, backup, restore, simulate, sweep."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from app import migrate as migrations
from app.config import Settings, get_settings
from app.db import make_engine
from app.embedded_pg import EmbeddedPostgres

cli = typer.Typer(help="zcpark: energy and carbon service of the Lhasa ETDZ zero-carbon park",
                  no_args_is_help=True)
keys_cli = typer.Typer(help="API keys", no_args_is_help=True)
cli.add_typer(keys_cli, name="keys")


@contextmanager
def database(settings: Settings, *, create: bool = False) -> Iterator[Settings]:
    """Settings with a database URL: the configured one, or an embedded server started here
    (and stopped on exit). Without ``create``, a data folder holding no database is an error
    naming the folder (only ``serve`` and ``migrate`` create one)."""
    if settings.database_url:
        yield settings
        return
    server = EmbeddedPostgres(settings.data_dir)
    if not create and not (server.pgdata / "PG_VERSION").exists():
        typer.echo(f"no zcpark database in {settings.data_dir.absolute()}: start one with "
                   "`zcpark serve` (or `zcpark migrate`), or point ZCPARK_DATA_DIR or "
                   "DATABASE_URL at an existing one.", err=True)
        raise typer.Exit(2)
    url = server.start()
    typer.echo(f"embedded PostgreSQL running in {server.pgdata} (data folder "
               f"{settings.data_dir.absolute()}; ZCPARK_DATA_DIR changes it)", err=True)
    try:
        yield settings.model_copy(update={"database_url": url})
    finally:
        server.stop()


WORKER_HEALTHCHECK_S = 60
"""How long a worker may take to answer uvicorn's liveness ping before it is replaced. A spawned
worker imports the whole service before it can answer; on a loaded machine that takes longer
than uvicorn's 5 s default, and every worker was then killed and respawned without end."""


@cli.command()
def serve(host: str = "127.0.0.1", port: int = 8000,
          demo: bool = typer.Option(False, help="load the demo park (1 Jan 2026 to now, kept "
                                    "up to date while running), print a key"),
          workers: int = typer.Option(0, min=0, help="worker processes (0: one per CPU core)"),
          ) -> None:
    """Migrate the database, then serve the API (embedded PostgreSQL without DATABASE_URL).
    With several workers the scheduler still runs in one of them (elected in the database)."""
    import uvicorn

    from app.main import create_app

    # uvicorn re-raises SIGTERM after its graceful shutdown; turn it into SystemExit so the
    # embedded server is stopped by `database()` below instead of the process dying first.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    with database(get_settings(), create=True) as settings:
        assert settings.database_url is not None
        engine = make_engine(settings.database_url)
        migrations.upgrade(engine, use_timescale=settings.timescale)
        if demo:
            from app.demo import demo_state, load_demo_park
            from app.services.keys import active_key_in_file

            with Session(engine) as session:
                typer.echo(demo_state(session).message)
                # a restart keeps the key its first start wrote while that key is active
                kept = active_key_in_file(session, settings.data_dir)
                key = load_demo_park(session, engine=engine, settings=settings, operator_key=kept)
                session.commit()
            announce_demo_key(settings, key, host, port, kept=kept is not None)
            # keep the demo going: the scheduler adds each ended quarter-hour's readings
            settings = settings.model_copy(update={"demo_readings": True})
        n = workers or os.cpu_count() or 1
        if n == 1:
            app = create_app(settings, engine=engine)
            uvicorn.run(app, host=host, port=port)
        else:
            engine.dispose()
            with multiworker_environment(settings.database_url,
                                         demo_readings=settings.demo_readings):
                uvicorn.run("app.main:create_app", factory=True, host=host, port=port,
                            workers=n, timeout_worker_healthcheck=WORKER_HEALTHCHECK_S)
        engine.dispose()


@contextmanager
def multiworker_environment(database_url: str, *, demo_readings: bool = False
                            ) -> Iterator[None]:
    """Environment for worker processes that build the app from their own settings: the
    database URL (the embedded server's too), whether the demo keeps ticking, and a fresh folder
    for the metrics of all workers."""
    import tempfile

    names = ("ZCPARK_DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR", "ZCPARK_DEMO_READINGS")
    saved = {k: os.environ.get(k) for k in names}
    with tempfile.TemporaryDirectory(prefix="zcpark-metrics-") as metrics_dir:
        os.environ["ZCPARK_DATABASE_URL"] = database_url
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        os.environ["ZCPARK_DEMO_READINGS"] = "true" if demo_readings else "false"
        try:
            yield
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def announce_demo_key(settings: Settings, key: str, host: str, port: int, *,
                      kept: bool = False) -> Path:
    """Write the demo operator key to a file only its owner can read (0600) in the data
    directory (or keep the file when it holds that key), and say where on the console; the key
    itself is never printed or logged."""
    from app.services.keys import write_key_file

    path = write_key_file(settings.data_dir, key)
    if kept:
        typer.echo(f"demo park loaded; the operator key in {path} (mode 0600) still opens it")
    else:
        typer.echo(f"demo park loaded; operator key written to {path} (mode 0600)")
    typer.echo(f"try: curl -H \"Authorization: Bearer $(cat {path})\" "
               f"'http://{host}:{port}/v1/park/energy?start=2026-01-01T00:00:00%2B08:00"
               f"&end=2027-01-01T00:00:00%2B08:00&by=zone'")
    return path


@cli.command()
def migrate() -> None:
    """Bring the database schema to the newest revision."""
    with database(get_settings(), create=True) as settings:
        assert settings.database_url is not None
        engine = make_engine(settings.database_url)
        migrations.upgrade(engine, use_timescale=settings.timescale)
        engine.dispose()
        typer.echo("database is at the newest revision")


@contextmanager
def _keys_session() -> Iterator[Session]:
    """A migrated database's session for the key commands (committed on success)."""
    with database(get_settings()) as settings:
        assert settings.database_url is not None
        engine = make_engine(settings.database_url)
        migrations.upgrade(engine, use_timescale=settings.timescale)
        try:
            with Session(engine) as session:
                yield session
                session.commit()
        finally:
            engine.dispose()


def _lifetime(text: str | None, option: str) -> timedelta | None:
    from app.services.keys import parse_duration

    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


def _problem_exit(exc: Exception) -> typer.Exit:
    typer.echo(getattr(exc, "detail", str(exc)), err=True)
    return typer.Exit(1)


@keys_cli.command("create")
def keys_create(role: str = typer.Option(..., help="operator | enterprise | planner"),
                enterprise: str | None = typer.Option(None, help="enterprise code"),
                label: str | None = None,
                expires_in: str | None = typer.Option(
                    None, "--expires-in", help="lifetime such as 12h, 90d or 4w")) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    from app.services.keys import create_key, enterprise_id_for

    lifetime = _lifetime(expires_in, "--expires-in")
    with _keys_session() as session:
        try:
            ent_id = enterprise_id_for(session, enterprise)
            _, key = create_key(session, role, ent_id, label=label, expires_in=lifetime)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    typer.echo(key)


@keys_cli.command("list")
def keys_list(all_keys: bool = typer.Option(True, "--all/--active",
                                            help="include revoked and expired keys")) -> None:
    """List keys (id, prefix, role, enterprise, status, expiry, last use); never the keys."""
    from rich.console import Console
    from rich.table import Table

    from app.repositories.keys import list_keys
    from app.services.keys import key_status

    table = Table(title="API keys")
    for col in ("id", "prefix", "role", "enterprise", "label", "status", "created",
                "expires", "last used"):
        table.add_column(col)

    def when(t: datetime | None) -> str:
        return t.isoformat(timespec="seconds") if t else "-"

    with _keys_session() as session:
        for row in list_keys(session):
            status = key_status(row)
            if not all_keys and status != "active":
                continue
            table.add_row(str(row.id), row.prefix, row.role,
                          row.enterprise.code if row.enterprise else "-", row.label or "-",
                          status, when(row.created_at), when(row.expires_at),
                          when(row.last_used_at))
    Console(width=160).print(table)


@keys_cli.command("revoke")
def keys_revoke(key_id: int = typer.Argument(..., help="key id (zcpark keys list)")) -> None:
    """Revoke a key at once."""
    from app.problems import Problem
    from app.services.keys import revoke_key

    try:
        with _keys_session() as session:
            row = revoke_key(session, key_id)
            typer.echo(f"key {row.id} ({row.prefix}…) revoked at "
                       f"{row.revoked_at.isoformat(timespec='seconds') if row.revoked_at else ''}")
    except Problem as exc:
        raise _problem_exit(exc) from None


@keys_cli.command("rotate")
def keys_rotate(key_id: int = typer.Argument(..., help="key id (zcpark keys list)"),
                expires_in: str | None = typer.Option(
                    None, "--expires-in", help="lifetime of the new key (default: the old "
                                               "key's lifetime, if it had one)"),
                grace: str | None = typer.Option(
                    None, "--grace", help="keep the old key valid this long (e.g. 1h)")) -> None:
    """Replace a key by a new one with the same role and enterprise; print the new key once."""
    from app.problems import Problem
    from app.services.keys import rotate_key

    lifetime, grace_period = _lifetime(expires_in, "--expires-in"), _lifetime(grace, "--grace")
    try:
        with _keys_session() as session:
            row, key = rotate_key(session, key_id, lifetime, grace_period)
            typer.echo(f"key {key_id} replaced by key {row.id}; the new key (shown once):",
                       err=True)
    except Problem as exc:
        raise _problem_exit(exc) from None
    typer.echo(key)


# --- backup and restore (operators) -------------------------------------------------------------

@cli.command()
def backup(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="archive to write (pg_dump custom "
                                         "format; replaced only once the dump is complete)")],
) -> None:
    """Back up the service's database (DATABASE_URL, or the embedded server) to FILE.

    pg_dump --format=custom: schema, data, TimescaleDB catalog and chunks.
    The pg_dump used is printed: the server's major version or newer, from
    ZCPARK_PG_BIN_DIR, the embedded server's wheel, /usr/lib/postgresql/*/bin
    or PATH; none fitting is an error.
    """
    from app.backup import BackupError
    from app.backup import backup as run_backup

    with database(get_settings()) as settings:
        assert settings.database_url is not None
        try:
            run_backup(settings.database_url, file, lambda m: typer.echo(m, err=True),
                       bin_dir=settings.pg_bin_dir)
        except BackupError as exc:
            typer.echo(f"backup failed: {exc}", err=True)
            raise typer.Exit(1) from None


@cli.command()
def restore(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                         help="archive written by `zcpark backup`")],
    force: Annotated[bool, typer.Option("--force", help="the target database is not empty: "
                                        "DROP it (closing its connections) and re-create it "
                                        "before restoring; its current data are lost")] = False,
    into: Annotated[str | None, typer.Option("--into", metavar="NAME", help="restore into the "
                                             "database NAME on the same server (created when "
                                             "missing) instead of the configured one")] = None,
    no_owner: Annotated[bool, typer.Option("--no-owner", help="do not restore ownership and "
                                           "grants (objects belong to the connecting user)")
                        ] = False,
) -> None:
    """Restore a backup into an EMPTY database; never overwrites without --force.

    Target: the configured database (DATABASE_URL or the embedded server's),
    or --into NAME on the same server (created when missing).
    A target holding any table is refused and left unchanged, unless --force:
    it is then DROPPED and re-created (stop the service first).
    One transaction: a failed restore leaves the target empty.
    TimescaleDB backups need the same TimescaleDB version on the server;
    pg_restore runs between timescaledb_pre_restore() and _post_restore().
    """
    from app.backup import BackupError
    from app.backup import restore as run_restore

    with database(get_settings()) as settings:
        assert settings.database_url is not None
        try:
            run_restore(settings.database_url, file, lambda m: typer.echo(m, err=True),
                        force=force, into=into, no_owner=no_owner,
                        bin_dir=settings.pg_bin_dir)
        except BackupError as exc:
            typer.echo(f"restore failed: {exc}", err=True)
            raise typer.Exit(1) from None


# --- simulations (planners): no database needed ------------------------------------------------

def _fmt(value: object, scale: float = 1.0, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    if isinstance(value, int | float):
        return f"{value / scale:,.{digits}f}"
    return str(value)


FORMATS = ("table", "csv", "json")


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise typer.BadParameter(f"use one of {', '.join(FORMATS)}", param_hint="--format")


def _print_table(console: Any, title: str, headers: list[str], rows: list[list[str]],
                 keep: int = 1) -> None:
    """Print a table that fits the console's width (80 columns in a pipe): when all columns do
    not fit, the first ``keep`` columns are repeated in as many tables as needed."""
    from rich.table import Table

    widths = [max([len(h), *(len(_plain(r[i])) for r in rows)]) + 3 for i, h in
              enumerate(headers)]
    fixed = sum(widths[:keep]) + 1
    groups: list[list[int]] = [[]]
    used = fixed
    for i in range(keep, len(headers)):
        if groups[-1] and used + widths[i] > console.width:
            groups.append([])
            used = fixed
        groups[-1].append(i)
        used += widths[i]
    for n, group in enumerate(groups, 1):
        cols = list(range(keep)) + group
        part = f" ({n}/{len(groups)})" if len(groups) > 1 else ""
        table = Table(title=f"{title}{part}", min_width=0)
        for i in cols:
            table.add_column(headers[i], justify="left" if i < keep else "right",
                             no_wrap=True)
        for r in rows:
            table.add_row(*[r[i] for i in cols])
        console.print(table)


def _plain(text: str) -> str:
    from rich.text import Text

    return Text.from_markup(text).plain


def _records(frame: Any) -> list[dict[str, Any]]:
    import json

    return json.loads(frame.to_json(orient="records", date_format="iso"))


@cli.command()
def simulate(
    scenario_file: Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                                  help="scenario file (YAML or JSON)")],
    out: Annotated[Path | None, typer.Option("--out", help="results folder "
                                             "(default: ./out/<scenario name>)")] = None,
    series_format: Annotated[str, typer.Option(help="csv | parquet")] = "csv",
    plots: Annotated[bool, typer.Option(help="draw the PNG plots")] = True,
    lang: Annotated[str, typer.Option(help="plot labels: zh (Chinese) | en (English)")] = "zh",
    fmt: Annotated[str, typer.Option("--format", help="table (fits the terminal, 80 columns "
                                     "in a pipe) | csv (yearly results) | json")] = "table",
    sensitivity: Annotated[bool, typer.Option(
        help="also run the one-at-a-time sensitivity: sensitivity.csv and tornado plots")
    ] = False,
) -> None:
    """Run a scenario: print a summary table, write KPIs, series and plots. Implausible inputs
    are warned about (stderr, and kpis.json)."""
    import json

    from rich.console import Console

    from simulations import (
        ScenarioError,
        SimulationError,
        load_scenario,
        run_scenario,
        write_results,
    )

    if series_format not in ("csv", "parquet"):
        raise typer.BadParameter("use csv or parquet", param_hint="--series-format")
    if lang not in ("zh", "en"):
        raise typer.BadParameter("use zh or en", param_hint="--lang")
    _check_format(fmt)
    console = Console()
    try:
        scenario = load_scenario(scenario_file)
        with Console(stderr=True).status(f"simulating {scenario.name} {scenario.start_year}-"
                            f"{scenario.end_year} ({scenario.dispatch.strategy} dispatch)"):
            result = run_scenario(scenario)
    except (ScenarioError, SimulationError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    folder = out or Path("out") / scenario.name
    paths = write_results(result, folder, series_format=series_format,  # type: ignore[arg-type]
                          plots=plots, lang=lang)
    warn = Console(stderr=True)
    for w in result.kpis.get("warnings", []):
        warn.print(f"[yellow]warning[/] {w['field']}: {w['message']}")  # wrapped to the terminal
    if sensitivity:
        from simulations.sensitivity import run_sensitivity, write_sensitivity

        with warn.status("sensitivity: one-at-a-time cases"):
            table = run_sensitivity(scenario, workers=None)
        paths.update(write_sensitivity(table, folder, lang))
    y = result.yearly
    if fmt == "csv":
        typer.echo(y.to_csv(), nl=False)
        return
    if fmt == "json":
        typer.echo(json.dumps({"scenario": scenario.name, "yearly": _records(y.reset_index()),
                               "targets": _records(result.targets),
                               "summary": result.kpis["summary"],
                               "written": {k: str(p) for k, p in paths.items()}},
                              ensure_ascii=False, default=str))
        return
    columns = [("year", None, 0), ("PV MWp", "pv_capacity_kwp", 1e3),
               ("storage MWh", "storage_energy_mwh", 1), ("load GWh", "load_mwh", 1e3),
               ("PV used GWh", "pv_used_mwh", 1e3), ("direct GWh", "direct_delivered_mwh", 1e3),
               ("import GWh", "grid_import_mwh", 1e3), ("export GWh", "grid_export_mwh", 1e3),
               ("curtailed GWh", "pv_curtailed_mwh", 1e3), ("energy ktce", "energy_tce", 1e3),
               ("CO2 loc. kt", "co2_location_based_t", 1e3),
               ("CO2 mkt. kt", "co2_market_based_t", 1e3),
               ("tce/10k yuan", "energy_intensity_tce_per_10k_yuan", 1),
               ("cost M yuan", "total_cost_yuan", 1e6)]
    _print_table(console, f"{scenario.name}: yearly results", [c[0] for c in columns], [
        [str(year), *[_fmt(row[col], scale, 4 if col.startswith("energy_intensity") else 1)
                      for _, col, scale in columns[1:]]] for year, row in y.iterrows()])
    rows = []
    for r in result.targets.itertuples():
        colour = {"achieved": "green", "missed": "red"}.get(r.status, "yellow")
        rows.append([r.target_id, f"{r.phase} {r.evaluation_year}", _fmt(r.target_value, digits=4),
                     _fmt(r.actual_value, digits=4), f"[{colour}]{r.status}[/]", r.target_set])
    _print_table(console, "targets (each phase)",
                 ["target", "phase, year", "target value", "actual", "status", "set"], rows)
    s = result.kpis["summary"]
    console.print(f"total cost {_fmt(s['total_cost_yuan'], 1e6)} M yuan (investment "
                  f"{_fmt(s['investment_yuan'], 1e6)} M yuan); CO2 {_fmt(s['total_co2_t'], 1e3)}"
                  f" kt market-based, {_fmt(s['total_co2_location_based_t'], 1e3)} kt "
                  f"location-based; binding targets missed: "
                  f"{', '.join(s['binding_targets_missed']) or 'none'}")
    console.print(f"results written to {folder}/: {', '.join(p.name for p in paths.values())}")


@cli.command()
def sweep(
    sweep_file: Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                               help="sweep file (YAML or JSON)")],
    out: Annotated[Path | None, typer.Option("--out", help="results folder "
                                             "(default: ./out/<sweep name>)")] = None,
    workers: Annotated[int | None, typer.Option(help="process-pool size (default: all cores; "
                                                     "1 = serial in this process)")] = None,
    dask: Annotated[str | None, typer.Option(help="Dask scheduler address: run on Dask "
                                                  "(default: the sweep file's or the "
                                                  "dask_scheduler_address setting)")] = None,
    lang: Annotated[str, typer.Option(help="plot labels: zh (Chinese) | en (English)")] = "zh",
    fmt: Annotated[str, typer.Option("--format", help="table (fits the terminal, 80 columns "
                                     "in a pipe) | csv | json")] = "table",
) -> None:
    """Run a sweep in parallel: print the cases with the cost–carbon Pareto front marked."""
    import json

    from rich.console import Console

    from simulations import ScenarioError, SimulationError, load_sweep, run_sweep, write_sweep

    if lang not in ("zh", "en"):
        raise typer.BadParameter("use zh or en", param_hint="--lang")
    _check_format(fmt)
    console = Console()
    try:
        spec = load_sweep(sweep_file)
    except ScenarioError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    address = dask or spec.dask_scheduler_address or get_settings().dask_scheduler_address
    executor = "dask" if (dask or spec.executor == "dask") else "process"
    try:
        table = run_sweep(spec, executor=executor, workers=workers, scheduler_address=address,
                          progress=fmt == "table")
    except SimulationError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    folder = out or Path("out") / spec.name
    paths = write_sweep(table, folder, spec.name, lang)
    keys = [k for k in table.columns if k in {p.strip() for g in spec.grid for p in g.split(",")}]
    ordered = table.sort_values("total_cost_yuan", na_position="last")
    if fmt == "csv":
        typer.echo(ordered.to_csv(index=False), nl=False)
        return
    if fmt == "json":
        typer.echo(json.dumps({"sweep": spec.name, "cases": _records(ordered),
                               "written": {k: str(p) for k, p in paths.items()}},
                              ensure_ascii=False, default=str))
        return
    rows = []
    for r in ordered.to_dict("records"):
        mark = "*" if r["pareto"] else ""
        rows.append([f"{r['case']}{mark}", *[str(r[k]) for k in keys],
                     _fmt(r.get("total_cost_yuan"), 1e6), _fmt(r.get("total_co2_t"), 1e3),
                     _fmt(r.get("final_year_energy_intensity_tce_per_10k_yuan"), digits=4),
                     r["status"] if r["status"] == "done" else f"[red]{r['error'][:60]}[/]"])
    _print_table(console, f"{spec.name}: {len(table)} cases (* = Pareto front), by cost",
                 ["case", *keys, "cost M yuan", "CO2 kt", "tce/10k yuan (last)", "status"], rows)
    console.print(f"results written to {folder}/: {', '.join(p.name for p in paths.values())}")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
