"""The log's own columns beside the library's: each event's tenant and type, indexed by
tenant and position, and the migration that adds them to a log written without them.

Run at start under the schema setup lock. It holds the log's writers no longer than one
batch of its backfill, or its index build, at a time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import structlog
from psycopg.sql import SQL, Composed, Identifier

from infrastructure.read_models import Conn

log = structlog.get_logger(__name__)

BACKFILL_BATCH = 5000  # positions per transaction
# Compared byte by byte ("C"): both are ASCII names, and the writers maintain the index.
COLUMNS = ("tenant_id", "type")
# How a row's columns follow from its stored event, for writers that do not give them
# (the library's own insert, the append function of the last release) and for the
# backfill: the tenant its command stamped in the metadata ("" if none), the type the
# last part of the topic (as `topic_parts` reads it).
TENANT_OF_STATE = "coalesce(convert_from({state}, 'UTF8')::json -> 'metadata' ->> 'tenant_id', '')"
TYPE_OF_TOPIC = "split_part({topic}, '.', -1)"


@dataclass(frozen=True)
class Found:
    """How far a log has been migrated."""

    columns: int  # of `COLUMNS` present
    required: int  # of them NOT NULL
    trigger: bool
    index: bool

    @property
    def done(self) -> bool:
        return self.columns == self.required == len(COLUMNS) and self.trigger and self.index


class EventColumns:
    """The tenant and type columns of one events table."""

    def __init__(self, schema: str, table: str) -> None:
        self.name = f"{schema}.{table}"
        self.table = Identifier(schema, table)
        self.index = f"{table}_tenant_position"
        self.fill = f"{table}_fill_columns"
        self.check = f"{table}_columns_filled"
        self.fill_function = Identifier(schema, self.fill)

    def migrate(self, conn: Conn, batch: int = BACKFILL_BATCH) -> int:
        """Add what the table lacks: the columns, the fill trigger, their values in
        batches of positions, NOT NULL, and the index; how many rows were backfilled.

        Every step is skipped when already done, so a start finds a migrated log with
        one catalog query and takes no lock on it. The trigger comes before the
        backfill, so rows written meanwhile by a release that knows no columns are
        filled as they arrive. The index is built in the usual way, not CONCURRENTLY:
        that would wait for every transaction older than it, among them those of
        processes waiting for this setup lock.
        """
        found = self.found(conn)
        if found.done:
            return 0
        began = time.monotonic()
        if found.columns < len(COLUMNS):
            conn.execute(
                SQL("ALTER TABLE {0} {1}").format(
                    self.table,
                    SQL(", ").join(
                        SQL('ADD COLUMN IF NOT EXISTS {0} text COLLATE "C"').format(Identifier(c))
                        for c in COLUMNS
                    ),
                )
            )
        if not found.trigger:
            conn.execute(self._fill_function())
            conn.execute(
                SQL(
                    "CREATE TRIGGER {0} BEFORE INSERT ON {1} FOR EACH ROW"
                    " WHEN (NEW.tenant_id IS NULL OR NEW.type IS NULL) EXECUTE FUNCTION {2}()"
                ).format(Identifier(self.fill), self.table, self.fill_function)
            )
        filled = 0
        if found.required < len(COLUMNS):
            filled = self._backfill(conn, batch)
            self._require(conn)
        if not found.index:
            conn.execute(
                SQL("CREATE INDEX IF NOT EXISTS {0} ON {1} (tenant_id, notification_id)").format(
                    Identifier(self.index), self.table
                )
            )
        if filled:
            conn.execute(SQL("VACUUM (ANALYZE) {0}").format(self.table))  # no autovacuum soon
            log.info(
                "event log migrated",
                table=self.name,
                backfilled=filled,
                seconds=round(time.monotonic() - began, 3),
            )
        return filled

    def found(self, conn: Conn) -> Found:
        row: dict[str, Any] | None = conn.execute(
            "SELECT count(a.attname) AS columns, count(*) FILTER (WHERE a.attnotnull) AS required,"
            " EXISTS (SELECT FROM pg_trigger WHERE tgrelid = t.oid AND tgname = %(fill)s)"
            "  AS trigger,"
            " EXISTS (SELECT FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            "  WHERE i.indrelid = t.oid AND c.relname = %(index)s) AS index"
            " FROM (SELECT %(table)s::regclass AS oid) t"
            " LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attname = ANY(%(columns)s)"
            "  AND NOT a.attisdropped"
            " GROUP BY t.oid",
            {"table": self.name, "fill": self.fill, "index": self.index, "columns": list(COLUMNS)},
        ).fetchone()
        assert row is not None
        return Found(row["columns"], row["required"], row["trigger"], row["index"])

    def _fill_function(self) -> Composed:
        return SQL(
            "CREATE OR REPLACE FUNCTION {0}() RETURNS trigger LANGUAGE plpgsql AS $fill$"
            " BEGIN NEW.tenant_id := coalesce(NEW.tenant_id, {1});"
            " NEW.type := coalesce(NEW.type, {2}); RETURN NEW; END $fill$"
        ).format(
            self.fill_function,
            SQL(TENANT_OF_STATE).format(state=SQL("NEW.state")),
            SQL(TYPE_OF_TOPIC).format(topic=SQL("NEW.topic")),
        )

    def _backfill(self, conn: Conn, batch: int) -> int:
        """Fill the columns of the rows written before them, a range of positions per
        transaction (writers wait for one range at most); how many rows."""
        bounds = conn.execute(
            SQL(
                "SELECT coalesce(min(notification_id), 1) - 1 AS low,"
                " coalesce(max(notification_id), 0) AS high FROM {0}"
            ).format(self.table)
        ).fetchone()
        assert bounds is not None
        low, high = bounds["low"], bounds["high"]
        update = SQL(
            "UPDATE {0} SET tenant_id = coalesce(tenant_id, {1}), type = coalesce(type, {2})"
            " WHERE notification_id > %s AND notification_id <= %s"
            " AND (tenant_id IS NULL OR type IS NULL)"
        ).format(
            self.table,
            SQL(TENANT_OF_STATE).format(state=SQL("state")),
            SQL(TYPE_OF_TOPIC).format(topic=SQL("topic")),
        )
        filled, reported = 0, time.monotonic()
        while low < high:
            filled += conn.execute(update, (low, low + batch)).rowcount
            low += batch
            if time.monotonic() - reported > 5:
                log.info("backfilling the event log", table=self.name, position=low, head=high)
                reported = time.monotonic()
        return filled

    def _require(self, conn: Conn) -> None:
        """NOT NULL on both columns without holding the table through a scan: a CHECK
        added NOT VALID is validated under a lock that lets writers in, and then proves
        SET NOT NULL without another scan."""
        check, table = Identifier(self.check), self.table
        conn.execute(SQL("ALTER TABLE {0} DROP CONSTRAINT IF EXISTS {1}").format(table, check))
        conn.execute(
            SQL(
                "ALTER TABLE {0} ADD CONSTRAINT {1}"
                " CHECK (tenant_id IS NOT NULL AND type IS NOT NULL) NOT VALID"
            ).format(table, check)
        )
        conn.execute(SQL("ALTER TABLE {0} VALIDATE CONSTRAINT {1}").format(table, check))
        conn.execute(
            SQL(
                "ALTER TABLE {0} ALTER COLUMN tenant_id SET NOT NULL,"
                " ALTER COLUMN type SET NOT NULL"
            ).format(table)
        )
        conn.execute(SQL("ALTER TABLE {0} DROP CONSTRAINT {1}").format(table, check))
