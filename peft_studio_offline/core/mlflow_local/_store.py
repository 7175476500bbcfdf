"""The local record of MLflow experiments and runs made through the local endpoint.

A small SQLite file beside the queue database (``queue.mlflow.db`` next to ``queue.db``):
what the endpoint answers reads from (runs, params, tags, every metric point logged here),
and the map from local ids to the ids the tracking server gave at delivery. The queue stays
the record of what must still be sent; this file is what the app knows of each run.

Every method is synchronous and short; callers on an event loop run them on a thread. The
file is shared by every process working on the same queue (WAL, a busy timeout).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS experiments (
        id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, remote_id TEXT,
        artifact_location TEXT NOT NULL, creation_time INTEGER NOT NULL,
        tags TEXT NOT NULL DEFAULT '{}', create_op INTEGER)""",
    """CREATE TABLE IF NOT EXISTS runs (
        id TEXT PRIMARY KEY, experiment_id TEXT NOT NULL, remote_id TEXT,
        run_name TEXT NOT NULL DEFAULT '', user_id TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT 'RUNNING', start_time INTEGER, end_time INTEGER,
        artifact_uri TEXT NOT NULL DEFAULT '', create_op INTEGER)""",
    """CREATE TABLE IF NOT EXISTS params (
        run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
        PRIMARY KEY (run_id, key))""",
    """CREATE TABLE IF NOT EXISTS tags (
        run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
        PRIMARY KEY (run_id, key))""",
    """CREATE TABLE IF NOT EXISTS metrics (
        run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
        timestamp INTEGER NOT NULL, step INTEGER NOT NULL, seq INTEGER PRIMARY KEY)""",
    "CREATE INDEX IF NOT EXISTS metrics_by_key ON metrics (run_id, key, step)",
)


def store_path_for(queue_path: Path) -> Path:
    """The local MLflow record that belongs to the queue file ``queue_path``."""
    return queue_path.with_name(f"{queue_path.stem}.mlflow.db")


class ParamChangedError(ValueError):
    """A param logged again with another value (MLflow params never change)."""


class NameTakenError(ValueError):
    """An experiment of that name exists already."""


@dataclass(frozen=True, slots=True)
class ExperimentRecord:
    id: str
    name: str
    remote_id: str | None
    artifact_location: str
    creation_time: int
    tags: dict[str, str]
    create_op: int | None


@dataclass(frozen=True, slots=True)
class RunRecord:
    id: str
    experiment_id: str
    remote_id: str | None
    run_name: str
    user_id: str
    status: str
    start_time: int | None
    end_time: int | None
    artifact_uri: str
    create_op: int | None
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    # key -> (value, timestamp, step) of the point with the highest step (then timestamp)
    latest: dict[str, tuple[str, int, int]] = field(default_factory=dict)


def new_id() -> str:
    return uuid.uuid4().hex


def now_ms() -> int:
    return int(time.time() * 1000)


class LocalStore:
    """One connection to the file, used by one thread at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def exists(self) -> bool:
        return self._conn is not None or self.path.exists()

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._conn is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(
                    self.path, timeout=30.0, isolation_level=None, check_same_thread=False
                )
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.execute(
                    "INSERT OR IGNORE INTO experiments (id, name, remote_id, artifact_location,"
                    " creation_time) VALUES (?, ?, ?, '', 0)",
                    (DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME, DEFAULT_EXPERIMENT_ID),
                )
                self._conn = conn
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # --------------------------------------------------------------- experiments

    def experiment(self, experiment_id: str) -> ExperimentRecord | None:
        with self._db() as db:
            row = db.execute(_EXPERIMENT_SQL + " WHERE id = ?", (experiment_id,)).fetchone()
        return _experiment(row) if row else None

    def experiment_by_name(self, name: str) -> ExperimentRecord | None:
        with self._db() as db:
            row = db.execute(_EXPERIMENT_SQL + " WHERE name = ?", (name,)).fetchone()
        return _experiment(row) if row else None

    def add_experiment(self, record: ExperimentRecord) -> None:
        with self._db() as db:
            if db.execute("SELECT 1 FROM experiments WHERE name = ?", (record.name,)).fetchone():
                raise NameTakenError(record.name)
            db.execute(
                "INSERT INTO experiments (id, name, remote_id, artifact_location, creation_time,"
                " tags, create_op) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    record.id,
                    record.name,
                    record.remote_id,
                    record.artifact_location,
                    record.creation_time,
                    json.dumps(record.tags),
                    record.create_op,
                ),
            )

    def map_experiment(self, experiment_id: str, remote_id: str) -> None:
        with self._db() as db:
            db.execute(
                "UPDATE experiments SET remote_id = ? WHERE id = ?", (remote_id, experiment_id)
            )

    # ---------------------------------------------------------------------- runs

    def add_run(self, record: RunRecord) -> None:
        with self._db() as db:
            db.execute(
                "INSERT INTO runs (id, experiment_id, remote_id, run_name, user_id, status,"
                " start_time, end_time, artifact_uri, create_op)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.id,
                    record.experiment_id,
                    record.remote_id,
                    record.run_name,
                    record.user_id,
                    record.status,
                    record.start_time,
                    record.end_time,
                    record.artifact_uri,
                    record.create_op,
                ),
            )
            _put(db, "tags", record.id, record.tags.items())

    def run(self, run_id: str) -> RunRecord | None:
        with self._db() as db:
            row = db.execute(_RUN_SQL + " WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                return None
            params = dict(db.execute("SELECT key, value FROM params WHERE run_id = ?", (run_id,)))
            tags = dict(db.execute("SELECT key, value FROM tags WHERE run_id = ?", (run_id,)))
            latest: dict[str, tuple[str, int, int]] = {}
            for key, value, stamp, step in db.execute(
                "SELECT key, value, timestamp, step FROM metrics WHERE run_id = ?"
                " ORDER BY step, timestamp, seq",
                (run_id,),
            ):
                latest[key] = (value, stamp, step)
        return RunRecord(
            id=str(row[0]),
            experiment_id=str(row[1]),
            remote_id=row[2],
            run_name=str(row[3]),
            user_id=str(row[4]),
            status=str(row[5]),
            start_time=row[6],
            end_time=row[7],
            artifact_uri=str(row[8]),
            create_op=row[9],
            params=params,
            tags=tags,
            latest=latest,
        )

    def remote_run(self, run_id: str) -> tuple[bool, str | None]:
        """(whether the run was made here, the server's id for it once known)."""
        if not self.exists():
            return False, None
        with self._db() as db:
            row = db.execute("SELECT remote_id FROM runs WHERE id = ?", (run_id,)).fetchone()
        return (False, None) if row is None else (True, row[0])

    def remote_experiment(self, experiment_id: str) -> tuple[bool, str | None]:
        if not self.exists():
            return False, None
        with self._db() as db:
            row = db.execute(
                "SELECT remote_id FROM experiments WHERE id = ?", (experiment_id,)
            ).fetchone()
        return (False, None) if row is None else (True, row[0])

    def map_run(self, run_id: str, remote_id: str, experiment_id: str) -> None:
        with self._db() as db:
            db.execute(
                "INSERT INTO runs (id, experiment_id, remote_id) VALUES (?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET remote_id = excluded.remote_id",
                (run_id, experiment_id, remote_id),
            )

    def update_run(
        self, run_id: str, *, status: str | None, end_time: int | None, run_name: str | None
    ) -> None:
        with self._db() as db:
            db.execute(
                "UPDATE runs SET status = coalesce(?, status), end_time = coalesce(?, end_time),"
                " run_name = coalesce(?, run_name) WHERE id = ?",
                (status, end_time, run_name, run_id),
            )

    def log(
        self,
        run_id: str,
        *,
        metrics: Iterable[tuple[str, str, int, int]] = (),
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        """Record what was logged; a param with another value than before changes nothing."""
        with self._db() as db:
            for key, value in (params or {}).items():
                row = db.execute(
                    "SELECT value FROM params WHERE run_id = ? AND key = ?", (run_id, key)
                ).fetchone()
                if row is not None and row[0] != value:
                    raise ParamChangedError(
                        f"Changing param values is not allowed. Param with key='{key}' was"
                        f" already logged with value='{row[0]}' for run ID='{run_id}'."
                        f" Attempted logging new value '{value}'."
                    )
            _put(db, "params", run_id, (params or {}).items())
            _put(db, "tags", run_id, (tags or {}).items())
            db.executemany(
                "INSERT INTO metrics (run_id, key, value, timestamp, step) VALUES (?, ?, ?, ?, ?)",
                ((run_id, k, v, t, s) for k, v, t, s in metrics),
            )

    def delete_tag(self, run_id: str, key: str) -> bool:
        with self._db() as db:
            cursor = db.execute("DELETE FROM tags WHERE run_id = ? AND key = ?", (run_id, key))
        return cursor.rowcount > 0

    def latest_points(self, run_id: str) -> dict[tuple[str, int], tuple[str, int]]:
        """(key, step) -> (value, timestamp) of the point logged last for it, for one run."""
        if not self.exists():
            return {}
        with self._db() as db:
            rows = db.execute(
                "SELECT key, step, value, timestamp FROM metrics WHERE seq IN"
                " (SELECT max(seq) FROM metrics WHERE run_id = ? GROUP BY key, step)",
                (run_id,),
            ).fetchall()
        return {(str(k), int(s)): (str(v), int(t)) for k, s, v, t in rows}

    def metric_history(self, run_id: str, key: str) -> list[tuple[str, int, int]]:
        with self._db() as db:
            rows = db.execute(
                "SELECT value, timestamp, step FROM metrics WHERE run_id = ? AND key = ?"
                " ORDER BY seq",
                (run_id, key),
            ).fetchall()
        return [(str(v), int(t), int(s)) for v, t, s in rows]


_EXPERIMENT_SQL = (
    "SELECT id, name, remote_id, artifact_location, creation_time, tags, create_op FROM experiments"
)
_RUN_SQL = (
    "SELECT id, experiment_id, remote_id, run_name, user_id, status, start_time, end_time,"
    " artifact_uri, create_op FROM runs"
)


def _experiment(row: tuple[Any, ...]) -> ExperimentRecord:
    return ExperimentRecord(
        str(row[0]), str(row[1]), row[2], str(row[3]), int(row[4]), json.loads(row[5]), row[6]
    )


def _put(db: sqlite3.Connection, table: str, run_id: str, items: Iterable[tuple[str, str]]) -> None:
    db.executemany(
        f"INSERT INTO {table} (run_id, key, value) VALUES (?, ?, ?)"
        " ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
        ((run_id, k, v) for k, v in items),
    )
