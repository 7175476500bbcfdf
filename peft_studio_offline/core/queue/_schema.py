"""The queue's tables, indexes and triggers, and the migrations between their versions.

``PRAGMA user_version`` holds the schema version. Version 0 with an ``offline_operations``
table is the original design's schema (the spec's nine columns); it is rebuilt into the
current one with every row kept. Later versions are upgraded step by step (``upgrade``).
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 2

# The spec's nine columns first, under their names and meanings; then what a durable,
# retrying, leasing queue needs. Times the engine compares (next attempt, lease, expiry)
# are Unix seconds (REAL) so that claiming compares numbers; created/updated stay text
# timestamps in UTC, as in the spec.
CREATE_OPERATIONS = """
CREATE TABLE offline_operations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    operation_type TEXT NOT NULL,
    payload TEXT NOT NULL,  -- JSON serialized
    status TEXT DEFAULT 'pending',
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    retry_count INTEGER DEFAULT 0,
    error_message TEXT,
    priority INTEGER DEFAULT 0,
    idempotency_key TEXT NOT NULL,
    max_attempts INTEGER NOT NULL DEFAULT 5,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    expires_at REAL,
    dedup_key TEXT,
    conflict_strategy TEXT,
    resource_key TEXT,
    lease_owner TEXT,
    lease_expires_at REAL,
    payload_blob BLOB,  -- zlib-compressed JSON when the payload is large
    has_dependencies INTEGER NOT NULL DEFAULT 0
)
"""

# Claiming reads this partial index in priority order: it holds only pending rows, so a
# queue with a million finished operations claims as fast as an empty one. It carries each
# row's due time, so that claiming skips rows not yet due without reading them, and the
# sync engine's wake-up time (the earliest due time) is read from it alone; a separate
# index of due times cost every enqueue a fourth B-tree, 8% of concurrent enqueue speed.
CREATE_PENDING_INDEX = (
    "CREATE INDEX idx_operations_pending ON offline_operations (priority DESC, id,"
    " next_attempt_at) WHERE status = 'pending'"
)

CREATE_REST = [
    CREATE_PENDING_INDEX,
    # Listing by a rare status (failed, conflict...) reads this; pending and completed rows,
    # the bulk of any queue, stay out of it so that inserting and completing cost less.
    "CREATE INDEX idx_operations_status ON offline_operations (status, id)"
    " WHERE status NOT IN ('pending', 'completed')",
    "CREATE UNIQUE INDEX idx_operations_idempotency ON offline_operations (idempotency_key)",
    "CREATE UNIQUE INDEX idx_operations_dedup ON offline_operations (dedup_key)"
    " WHERE dedup_key IS NOT NULL AND status IN ('pending', 'in_progress')",
    "CREATE INDEX idx_operations_lease ON offline_operations (lease_expires_at)"
    " WHERE status = 'in_progress'",
    "CREATE INDEX idx_operations_resource ON offline_operations (resource_key, id)"
    " WHERE resource_key IS NOT NULL AND status IN ('pending', 'in_progress', 'conflict')",
    "CREATE INDEX idx_operations_expiry ON offline_operations (expires_at)"
    " WHERE expires_at IS NOT NULL AND status = 'pending'",
    """CREATE TABLE operation_dependencies (
        operation_id INTEGER NOT NULL,
        depends_on_id INTEGER NOT NULL,
        PRIMARY KEY (operation_id, depends_on_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX idx_dependencies_target ON operation_dependencies (depends_on_id)",
    """CREATE TABLE operation_attempts (
        id INTEGER PRIMARY KEY,
        operation_id INTEGER NOT NULL,
        attempt INTEGER NOT NULL,
        at TIMESTAMP NOT NULL,
        outcome TEXT NOT NULL,
        error TEXT,
        details TEXT
    )""",
    "CREATE INDEX idx_attempts_operation ON operation_attempts (operation_id, id)",
    """CREATE TABLE operation_conflicts (
        operation_id INTEGER PRIMARY KEY,
        local TEXT,
        remote TEXT,
        base TEXT,
        remote_version TEXT,
        message TEXT,
        detected_at TIMESTAMP NOT NULL
    )""",
    # Statistics come from counters: reading them takes microseconds, where a GROUP BY over
    # a million rows takes a large fraction of a second. Status changes and deletions keep
    # them through triggers. Inserts do not: a row trigger would cost three quarters of
    # insert throughput, so the queue adds each batch's count itself, in the same
    # transaction, and notes the last id it counted (see ``count_new_rows``).
    """CREATE TABLE queue_counters (
        status TEXT PRIMARY KEY,
        count INTEGER NOT NULL
    ) WITHOUT ROWID""",
    """CREATE TRIGGER trg_operations_delete AFTER DELETE ON offline_operations BEGIN
        UPDATE queue_counters SET count = count - 1 WHERE status = OLD.status;
        DELETE FROM operation_dependencies WHERE operation_id = OLD.id;
        DELETE FROM operation_attempts WHERE operation_id = OLD.id;
        DELETE FROM operation_conflicts WHERE operation_id = OLD.id;
    END""",
    """CREATE TRIGGER trg_operations_status AFTER UPDATE OF status ON offline_operations
    WHEN OLD.status IS NOT NEW.status BEGIN
        UPDATE queue_counters SET count = count - 1 WHERE status = OLD.status;
        INSERT INTO queue_counters (status, count) VALUES (NEW.status, 1)
        ON CONFLICT (status) DO UPDATE SET count = count + 1;
    END""",
]


def table_exists(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return row is not None


def create_schema(conn: sqlite3.Connection) -> None:
    conn.execute(CREATE_OPERATIONS)
    for statement in CREATE_REST:
        conn.execute(statement)


def upgrade(conn: sqlite3.Connection, version: int) -> None:
    """Bring a schema of ``version`` (1 or later) up to ``SCHEMA_VERSION``."""
    if version < 2:  # due times moved into the pending index; queue_meta into the counters
        conn.execute("DROP INDEX IF EXISTS idx_operations_due")
        conn.execute("DROP INDEX IF EXISTS idx_operations_pending")
        conn.execute(CREATE_PENDING_INDEX)
        # Counted afresh, once: the first version-1 files counted inserts by a trigger,
        # later ones kept the last counted id in queue_meta.
        conn.execute("DROP TRIGGER IF EXISTS trg_operations_insert")
        conn.execute("DELETE FROM queue_counters")
        conn.execute(
            "INSERT INTO queue_counters (status, count) SELECT status, count(*)"
            " FROM offline_operations WHERE status IS NOT NULL GROUP BY status"
        )
        add_to_counters(conn, None, 0, _max_id(conn))
        conn.execute("DROP TABLE IF EXISTS queue_meta")


def _max_id(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT coalesce(max(id), 0) FROM offline_operations").fetchone()[0])


def migrate_from_spec_table(conn: sqlite3.Connection, default_max_attempts: int) -> None:
    """Rebuild a version-0 table (the spec's columns only) into the current schema."""
    conn.execute("ALTER TABLE offline_operations RENAME TO offline_operations_v0")
    create_schema(conn)
    conn.execute(
        "INSERT INTO offline_operations (id, operation_type, payload, status, created_at,"
        " updated_at, retry_count, error_message, priority, idempotency_key, max_attempts)"
        " SELECT id, operation_type, payload, coalesce(status, 'pending'),"
        " coalesce(created_at, CURRENT_TIMESTAMP), coalesce(updated_at, CURRENT_TIMESTAMP),"
        " coalesce(retry_count, 0), error_message, coalesce(priority, 0),"
        " lower(hex(randomblob(16))), ? FROM offline_operations_v0",
        (default_max_attempts,),
    )
    conn.execute("DROP TABLE offline_operations_v0")


# The last id counted is kept among the counters, under a key that is no status: an insert
# then changes one small table (one page of the commit, not two; a page is about 15 us of
# an fsync'd commit of one operation).
COUNTED_THROUGH = "#counted_through_id"


def add_to_counters(
    conn: sqlite3.Connection, status: str | None, count: int, through_id: int
) -> None:
    """Count ``count`` new rows of ``status``, up to and including id ``through_id``."""
    counted = status is not None and count > 0
    conn.execute(
        "INSERT INTO queue_counters (status, count) VALUES (?1, ?2)"
        + (", (?3, ?4)" if counted else "")
        + " ON CONFLICT (status) DO UPDATE SET count = iif(status = ?1,"
        " max(count, excluded.count), count + excluded.count)",
        (COUNTED_THROUGH, through_id, status, count) if counted else (COUNTED_THROUGH, through_id),
    )


def count_new_rows(conn: sqlite3.Connection) -> None:
    """Count rows that another program inserted past the last id this queue counted.

    Cheap: a range scan from the last counted id. Run on open, inside a write transaction.
    """
    row = conn.execute(
        "SELECT count FROM queue_counters WHERE status = ?", (COUNTED_THROUGH,)
    ).fetchone()
    through = int(row[0]) if row else 0
    rows = conn.execute(
        "SELECT status, count(*), max(id) FROM offline_operations WHERE id > ? GROUP BY status",
        (through,),
    ).fetchall()
    for status, count, max_id in rows:
        # A row with no status is shown as unreadable; it is not counted under any status.
        add_to_counters(conn, status, 0 if status is None else count, max_id)
