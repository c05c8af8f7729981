"""The run table: an SQLite index (stdlib `sqlite3`) over the run directories.

The directories are the truth; the index only makes listing, filtering and sorting
fast, and `RunStore.reindex` rebuilds it from them at any time. One short-lived
connection per call (safe across threads and processes), WAL journal so readers
never block the writer.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

INDEX_NAME = "index.sqlite"

COLUMNS: dict[str, str] = {
    "id": "TEXT PRIMARY KEY",
    "name": "TEXT",
    "created": "REAL",
    "updated": "REAL",
    "env": "TEXT",
    "size": "INTEGER",
    "strategy": "TEXT",
    "population": "INTEGER",
    "seed": "INTEGER",
    "preset": "TEXT",
    "status": "TEXT",
    "message": "TEXT",
    "generation": "INTEGER",
    "total_generations": "INTEGER",
    "best_fitness": "REAL",
    "mean_dataset_return": "REAL",
    "parent": "TEXT",
    "study": "TEXT",
    "sweep": "TEXT",
    "host": "TEXT",
}
SORT_KEYS = (
    "created",
    "updated",
    "best_fitness",
    "mean_dataset_return",
    "name",
    "env",
    "status",
    "generation",
)


class RunIndex:
    """Rows of `COLUMNS`, one per run."""

    def __init__(self, root: Path):
        self.path = Path(root) / INDEX_NAME
        self._ready = False

    @contextlib.contextmanager
    def _connect(self):
        fresh = not self.path.exists()  # (re)created: set it up again
        con = sqlite3.connect(self.path, timeout=30.0)
        try:
            if fresh or not self._ready:
                con.execute("PRAGMA journal_mode=WAL")
                cols = ", ".join(f"{k} {v}" for k, v in COLUMNS.items())
                con.execute(f"CREATE TABLE IF NOT EXISTS runs ({cols})")
                have = {r[1] for r in con.execute("PRAGMA table_info(runs)")}
                for k, v in COLUMNS.items():
                    if k not in have:  # an index from an older version
                        con.execute(f"ALTER TABLE runs ADD COLUMN {k} {v}")
                self._ready = True
            con.execute("PRAGMA synchronous=NORMAL")
            with con:
                yield con
        finally:
            con.close()

    def upsert(self, row: dict) -> None:
        row = {k: row.get(k) for k in COLUMNS}
        keys = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        updates = ", ".join(f"{k}=excluded.{k}" for k in row if k != "id")
        with self._connect() as con:
            con.execute(
                f"INSERT INTO runs ({keys}) VALUES ({marks}) "
                f"ON CONFLICT(id) DO UPDATE SET {updates}",
                list(row.values()),
            )

    def update(self, run_id: str, **fields) -> None:
        fields = {k: v for k, v in fields.items() if k in COLUMNS and k != "id"}
        if not fields:
            return
        sets = ", ".join(f"{k}=?" for k in fields)
        with self._connect() as con:
            con.execute(
                f"UPDATE runs SET {sets} WHERE id=?", [*fields.values(), run_id]
            )

    def delete(self, run_id: str) -> None:
        with self._connect() as con:
            con.execute("DELETE FROM runs WHERE id=?", (run_id,))

    def ids(self) -> set[str]:
        with self._connect() as con:
            return {r[0] for r in con.execute("SELECT id FROM runs")}

    def query(
        self,
        env: str | None = None,
        status: str | None = None,
        sort: str = "created",
        desc: bool = True,
        study: str | None = None,
        sweep: str | None = None,
    ) -> list[dict]:
        if sort not in SORT_KEYS:
            raise ValueError(f"sort={sort!r}: use one of {', '.join(SORT_KEYS)}")
        where, args = [], []
        for col, value in (("env", env), ("study", study), ("sweep", sweep)):
            if value:
                where.append(f"{col}=?")
                args.append(value)
        if status:
            where.append("status=?")
            args.append(status)
        sql = "SELECT * FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        # Runs without a value (not evaluated yet) go last either way.
        sql += (
            f" ORDER BY {sort} IS NULL, {sort} {'DESC' if desc else 'ASC'},"
            " created DESC"
        )
        with self._connect() as con:
            con.row_factory = sqlite3.Row
            return [dict(r) for r in con.execute(sql, args)]

    def clear(self) -> None:
        with self._connect() as con:
            con.execute("DELETE FROM runs")
