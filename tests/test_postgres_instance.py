"""The production instance (deploy/postgres/dagster.yaml) on a real PostgreSQL server: the graph
materializes on it, a real daemon ticks the sensors on it, and the run and tick history is read
back from Postgres, through Dagster and in SQL."""

import glob
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psycopg2
import pytest

from titanic_assets.definitions import defs as load_definitions
from titanic_assets.defs.resources import LocalLandingArea, MonitoringPolicy, PredictionLog
from titanic_assets.testing import DAEMON, free_port, poll, running, unpartitioned

defs = load_definitions()

INSTANCE_YAML = Path(__file__).resolve().parents[1] / "deploy" / "postgres" / "dagster.yaml"
USER, PASSWORD, DATABASE = "dagster", "test-only-password", "dagster"


def postgres_bindir() -> Path | None:
    """The directory holding initdb and pg_ctl: on PATH, or Debian's versioned directory."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4])
    )
    return Path(candidates[-1]).parent if candidates else None


@dataclass
class Server:
    port: int

    def connect(self):
        return psycopg2.connect(
            host="127.0.0.1", port=self.port, user=USER, password=PASSWORD, dbname=DATABASE
        )


@pytest.fixture(scope="module")
def postgres() -> Iterator[Server]:
    """A throwaway PostgreSQL cluster on a free loopback port, with password authentication.

    PostgreSQL refuses to run as root, so under root (as in CI) it runs as the `postgres`
    user that Debian's package creates.
    """
    bindir = postgres_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    as_server_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    root = Path(tempfile.mkdtemp(prefix="titanic-postgres-"))
    (root / "password").write_text(PASSWORD)
    if as_server_user:
        shutil.chown(root, "postgres")
        shutil.chown(root / "password", "postgres")
    data, log, port = root / "data", root / "server.log", free_port()

    def run(*command: str) -> None:
        subprocess.run([*as_server_user, *command], check=True, capture_output=True, timeout=120)

    try:
        run(
            str(bindir / "initdb"), "-D", str(data), "-U", USER, f"--pwfile={root / 'password'}",
            "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
            "-o", options, "start")  # fmt: skip
        admin = psycopg2.connect(
            host="127.0.0.1", port=port, user=USER, password=PASSWORD, dbname="postgres"
        )
        admin.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        admin.cursor().execute(f"CREATE DATABASE {DATABASE}")
        admin.close()
        yield Server(port)
    except subprocess.CalledProcessError as error:
        pytest.fail(
            f"PostgreSQL did not start: {error.stderr.decode()}\n"
            + (log.read_text() if log.exists() else "")
        )
    finally:
        if (data / "postmaster.pid").exists():
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def instance(
    postgres: Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dg.DagsterInstance]:
    """The instance a deployment gets: DAGSTER_HOME holding the production dagster.yaml,
    connection settings from the environment."""
    home = tmp_path_factory.mktemp("dagster-home")
    shutil.copy(INSTANCE_YAML, home / "dagster.yaml")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(home))
        patch.setenv("DAGSTER_PG_HOST", "127.0.0.1")
        patch.setenv("DAGSTER_PG_PORT", str(postgres.port))
        patch.setenv("DAGSTER_PG_DB", DATABASE)
        patch.setenv("DAGSTER_PG_USERNAME", USER)
        patch.setenv("DAGSTER_PG_PASSWORD", PASSWORD)
        with dg.DagsterInstance.get() as instance:
            yield instance


@pytest.fixture(scope="module")
def graph_run(
    instance: dg.DagsterInstance, tmp_path_factory: pytest.TempPathFactory
) -> dg.ExecuteInProcessResult:
    """The whole graph with its checks, materialized once on the Postgres instance."""
    work = tmp_path_factory.mktemp("postgres-graph")
    return dg.materialize(
        [*defs.assets, *defs.asset_checks],
        selection=unpartitioned("titanic"),
        instance=instance,
        resources={
            "landing_area": LocalLandingArea(directory=str(work / "landing")),
            "scoring_inbox": LocalLandingArea(directory=str(work / "inbox")),
            "labels_landing": LocalLandingArea(directory=str(work / "labels")),
            "exports": LocalLandingArea(directory=str(work / "exports")),
            "prediction_log": PredictionLog(location=str(work / "prediction_log")),
            "monitoring_policy": MonitoringPolicy(),
            "io_manager": dg.FilesystemIOManager(base_dir=str(work / "storage")),
        },
    )


def test_production_instance_keeps_runs_events_and_schedules_in_postgres(
    instance: dg.DagsterInstance,
) -> None:
    from dagster_postgres import (
        PostgresEventLogStorage,
        PostgresRunStorage,
        PostgresScheduleStorage,
    )

    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(instance.schedule_storage, PostgresScheduleStorage)


def test_production_instance_queues_runs_with_a_concurrency_limit(
    instance: dg.DagsterInstance,
) -> None:
    coordinator = instance.run_coordinator
    assert isinstance(coordinator, dg.QueuedRunCoordinator)
    assert coordinator.get_run_queue_config().max_concurrent_runs == 4


def test_graph_materializes_on_the_postgres_instance(
    graph_run: dg.ExecuteInProcessResult,
) -> None:
    assert graph_run.success
    failed = [e.check_name for e in graph_run.get_asset_check_evaluations() if not e.passed]
    assert graph_run.get_asset_check_evaluations() and failed == []


def titanic_keys() -> set[dg.AssetKey]:
    """The unpartitioned assets of the model the graph run materialized."""
    return {
        key
        for asset in defs.assets
        if not asset.partitions_def
        for key in asset.keys
        if key.path[0] == "titanic"
    }


def test_run_history_reads_back_through_the_instance(
    instance: dg.DagsterInstance, graph_run: dg.ExecuteInProcessResult
) -> None:
    [record] = instance.get_run_records(dg.RunsFilter(run_ids=[graph_run.run_id]))
    assert record.dagster_run.status == dg.DagsterRunStatus.SUCCESS
    unpartitioned = titanic_keys()
    materialized = {
        key for key in unpartitioned if instance.get_latest_materialization_event(key) is not None
    }
    assert materialized == unpartitioned
    evaluation = instance.fetch_materializations(
        dg.AssetKey(["titanic", "model_evaluation"]), limit=1
    )
    assert evaluation.records[0].run_id == graph_run.run_id


def test_run_history_is_in_postgres_tables(
    postgres: Server, graph_run: dg.ExecuteInProcessResult
) -> None:
    with postgres.connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT status FROM runs WHERE run_id = %s", (graph_run.run_id,))
        assert cursor.fetchall() == [("SUCCESS",)]
        cursor.execute(
            "SELECT DISTINCT asset_key FROM event_logs"
            " WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'",
            (graph_run.run_id,),
        )
        stored = {row[0] for row in cursor.fetchall()}
    assert stored == {key.to_string() for key in titanic_keys()}


def test_the_daemon_ticks_every_sensor_and_the_ticks_are_in_postgres(
    postgres: Server, instance: dg.DagsterInstance, graph_run: dg.ExecuteInProcessResult,
    tmp_path: Path,
) -> None:  # fmt: skip
    sensors = {sensor.name for sensor in defs.sensors}
    assert sensors, "definitions.py defines sensors"
    env = {
        **os.environ,  # DAGSTER_HOME and the DAGSTER_PG_* settings of the instance fixture
        "TITANIC_LANDING_DIR": str(tmp_path / "landing"),
        "TITANIC_PREDICTION_LOG": str(tmp_path / "prediction_log"),
    }

    def ticks_in_postgres() -> dict[str, tuple[str, str, str]]:
        with postgres.connect() as connection, connection.cursor() as cursor:
            cursor.execute(
                "SELECT job_origin_id, selector_id, status, tick_body FROM job_ticks"
                " WHERE type = 'SENSOR' AND status <> 'STARTED'"
            )
            rows = cursor.fetchall()
        connection.close()
        # TickData is stored with its older field names: the sensor's name is "job_name".
        ticked = {json.loads(body)["job_name"]: (o, s, st) for o, s, st, body in rows}
        return ticked if sensors <= set(ticked) else {}

    with running(DAEMON, tmp_path / "daemon.log", env):
        ticked = poll("a finished daemon tick of every sensor in Postgres", ticks_in_postgres, 120)

    for name, (origin_id, selector_id, status) in ticked.items():
        assert status in {"SKIPPED", "SUCCESS"}, (name, status)
        [tick, *_] = instance.get_ticks(origin_id, selector_id)
        assert tick.instigator_name == name
