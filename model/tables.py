"""Row tables on disk: the article table and the timeline as CSV, JSON Lines or Parquet, and
passages as Parquet.

The format comes from the file's suffix (``table_format``). Every writer here is a
``model.report._Writer``: it streams (Parquet in row groups of ``ROW_GROUP`` rows), writes
to a temporary file beside the target and renames it into place on success, so memory
stays flat and an interrupted run leaves no half-written file. Text formats round scores
to ``model.report.SCORE_DECIMALS`` like every other text output; Parquet, a format for
analysis, keeps them as unrounded 64-bit floats. Parquet needs ``pyarrow`` (the
``parquet`` extra).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from .labels import STANCES, TOPICS
from .report import _Writer, rounded

TABLE_FORMATS = ("csv", "jsonl", "parquet")
ROW_GROUP = 4096
Columns = Sequence[tuple[str, str]]  # (name, kind): kind is string, int, float or list

PASSAGE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("index", "int"), ("start", "int"), ("end", "int"), ("text", "string"), ("topics", "list"),
    *((f"p_{t}", "float") for t in TOPICS), ("stance", "string"), *((f"p_{s}", "float") for s in STANCES),
)
"""A passage's own columns in flat form; ``source`` and the article's metadata come before them."""


def table_format(path: str | Path) -> str:
    """``csv``, ``jsonl`` or ``parquet`` from the suffix; ``ValueError`` for any other."""
    suffix = Path(path).suffix.lower().lstrip(".")
    fmt = {"csv": "csv", "jsonl": "jsonl", "json": "jsonl", "ndjson": "jsonl", "parquet": "parquet",
           "pq": "parquet"}.get(suffix)
    if fmt is None:
        raise ValueError(f"{path}: give a .csv, .jsonl or .parquet file name")
    return fmt


def require_pyarrow() -> None:
    """``ImportError`` with the install hint when pyarrow is missing."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ImportError("Parquet output needs pyarrow: pip install 'entente[parquet]'") from None


def passage_row(source: str, meta: Mapping[str, Any] | None, passage: Mapping[str, Any]) -> dict:
    """One passage as a flat row: ``source``, the article's metadata (if any), then ``PASSAGE_COLUMNS``."""
    return {
        "source": source, **(meta or {}),
        "index": passage["index"], "start": passage["start"], "end": passage["end"], "text": passage["text"],
        "topics": list(passage["topics"]),
        **{f"p_{t}": passage["topic_scores"][t] for t in TOPICS},
        "stance": passage["stance"],
        **{f"p_{s}": passage["stance_scores"][s] for s in STANCES},
    }


def passage_columns(meta_fields: Iterable[str]) -> list[tuple[str, str]]:
    """Columns of ``passage_row`` for articles carrying ``meta_fields``."""
    return [("source", "string"), *((k, "string") for k in meta_fields), *PASSAGE_COLUMNS]


def arrow_schema(columns: Columns):
    import pyarrow as pa

    kinds = {"string": pa.string(), "int": pa.int64(), "float": pa.float64(), "list": pa.list_(pa.string())}
    return pa.schema([(name, kinds[kind]) for name, kind in columns])


class TableWriter(_Writer):
    """Rows of fixed ``columns`` (``write_row``) as CSV, JSON Lines or Parquet."""

    def __init__(self, path: str | Path | None, columns: Columns, fmt: str, stream: IO[str] | None = None):
        if fmt not in TABLE_FORMATS:
            raise ValueError(f"unknown table format {fmt!r}; choose one of {', '.join(TABLE_FORMATS)}")
        if fmt == "parquet":
            require_pyarrow()
            if path is None:
                raise ValueError("Parquet needs a file, not a stream")
        self.columns = list(columns)
        self.fmt = fmt
        super().__init__(path, stream)

    def begin(self) -> None:
        self._rows: list[dict] = []
        if self.fmt == "csv":
            self.csv = csv.writer(self.out)
            self.csv.writerow([name for name, _ in self.columns])
        elif self.fmt == "parquet":
            import pyarrow.parquet as pq

            self.schema = arrow_schema(self.columns)
            self.parquet = pq.ParquetWriter(self.out.buffer, self.schema)

    def write_row(self, row: Mapping[str, Any]) -> None:
        if self.fmt == "parquet":
            self._rows.append(row)
            if len(self._rows) >= ROW_GROUP:
                self._flush()
            return
        values = {name: _text_value(row.get(name), kind) for name, kind in self.columns}
        if self.fmt == "jsonl":
            self.out.write(json.dumps(values, ensure_ascii=False) + "\n")
        else:
            self.csv.writerow([_csv_cell(v) for v in values.values()])

    def write_rows(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self.write_row(row)

    def _flush(self) -> None:
        import pyarrow as pa

        if self._rows:
            self.parquet.write_table(pa.Table.from_pylist(
                [{name: row.get(name) for name, _ in self.columns} for row in self._rows], schema=self.schema))
            self._rows.clear()

    def end(self) -> None:
        if self.fmt == "parquet":
            self._flush()
            self.parquet.close()

    def abort(self) -> None:
        if self.fmt == "parquet":
            self._rows.clear()
        super().abort()


def _text_value(value: Any, kind: str) -> Any:
    return rounded(value) if kind == "float" and value is not None else value


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list):
        return ";".join(value)
    return value


def open_table(path: str | Path, columns: Columns, fmt: str | None = None) -> TableWriter:
    """A streaming table writer for ``path`` (format from its suffix unless ``fmt``)."""
    return TableWriter(path, columns, fmt or table_format(path))


class ParquetWriter(_Writer):
    """Passages as Parquet, one row per passage (``passage_row``): the scorer's writer interface
    (``write_article``) over a ``TableWriter``. The columns are fixed by the first article:
    with or without the manifest's ``META_FIELDS``."""

    def __init__(self, path: str | Path | None, stream: IO[str] | None = None):
        require_pyarrow()
        if path is None:
            raise ValueError("Parquet output needs a file (-o FILE.parquet), not standard output")
        self.target = Path(path)
        self.table: TableWriter | None = None

    def write_article(self, source: str, result: dict) -> None:
        meta = result.get("meta")
        if self.table is None:
            self.table = open_table(self.target, passage_columns(meta or ()), "parquet")
        for p in result["passages"]:
            self.table.write_row(passage_row(source, meta, p))

    def close(self) -> None:
        if self.table is None:
            self.table = open_table(self.target, passage_columns(()), "parquet")
        self.table.close()

    def abort(self) -> None:
        if self.table is not None:
            self.table.abort()
