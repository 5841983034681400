"""Writers for scored articles: JSON Lines, CSV, Parquet (``model.tables``) and the
self-contained HTML report (``model.overview``).

Every score a writer prints is rounded to ``SCORE_DECIMALS`` decimals (``rounded``),
the same in every text format (Parquet keeps full precision). Every writer streams: articles
are written one at a time, so memory stays bounded however many inputs there are (the HTML
report keeps one small row per article for its overview). Files are written to a temporary file beside the
target and renamed into place on success, so an interrupted run never leaves a
half-written output file; ``abort`` instead of ``close`` leaves the target as it was
(the command line does so when it scored nothing, so an earlier output is never
replaced by an empty one).

Output is data for other programs and pages for people, and both are guarded against
the text they carry:

* CSV: a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
  prefixed with a single quote (``csv_cell``), so that a spreadsheet shows it as text
  instead of running it as a formula (OWASP's advice on CSV injection). Only text cells
  (``source``, ``text``) can start so; a program reading the CSV drops that quote
  (JSON Lines carries text exactly as scored, with no quote added).
* HTML: all text is escaped, and bidirectional control characters (U+202E and the
  like) are removed from what is shown, so no passage or file name renders reversed or
  reorders the page around it (``display_text``).
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import IO

from .labels import STANCES, TOPICS
from .text import normalize_space

SCORE_DECIMALS = 4
STANCE_COLOURS = {"cooperative": "#2e7d32", "friction": "#c62828", "neutral": "#757575"}
STANCE_BACKGROUNDS = {"cooperative": "#e3f2e4", "friction": "#fbe3e3", "neutral": "#f1f1f1"}
CSV_COLUMNS = (
    ["source", "index", "start", "end", "text", "topics"]
    + [f"p_{t}" for t in TOPICS]
    + ["stance"]
    + [f"p_{s}" for s in STANCES]
)


# Characters a spreadsheet reads as the start of a formula (OWASP, "CSV Injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: str) -> str:
    """A text cell safe to open in a spreadsheet: a leading ``'`` when it could start a formula."""
    return "'" + value if value.startswith(FORMULA_START) else value


def display_text(text: str) -> str:
    """Text as an HTML page shows it: whitespace collapsed, bidirectional controls and
    byte-order marks removed (``model.text.normalize_space``), then escaped."""
    return html.escape(normalize_space(str(text)))


def format_for(path: str | None, explicit: str | None) -> str:
    """The output format: given explicitly, else from the file suffix, else JSON Lines."""
    if explicit:
        return explicit
    suffix = Path(path).suffix.lower().lstrip(".") if path else ""
    return {"csv": "csv", "html": "html", "htm": "html", "parquet": "parquet"}.get(suffix, "jsonl")


def rounded(score: float) -> float:
    """A score as every output prints it: rounded to ``SCORE_DECIMALS`` decimals."""
    return round(float(score), SCORE_DECIMALS)


def passage_records(source: str, result: dict) -> list[dict]:
    """Flat per-passage records, each naming its source file (and the article's ``meta`` when
    scored with a manifest: ``model.archive.META_FIELDS``), scores rounded."""
    meta = result.get("meta") or {}
    return [
        {"source": source, **meta, **p,
         "topic_scores": {t: rounded(v) for t, v in p["topic_scores"].items()},
         "stance_scores": {s: rounded(v) for s, v in p["stance_scores"].items()}}
        for p in result["passages"]
    ]


class _Writer:
    """Base: opens the destination (a temporary file, or a stream) and commits on close."""

    def __init__(self, path: str | Path | None, stream: IO[str] | None = None):
        self.path = Path(path) if path else None
        self.finished = False
        self._tmp = None
        if self.path is not None:
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
            self._tmp = Path(tmp)
            self.out = io.open(fd, "w", encoding="utf-8", newline="")
        else:
            self.out = stream or sys.stdout
        self.begin()

    def begin(self) -> None:
        pass

    def write_article(self, source: str, result: dict) -> None:
        raise NotImplementedError

    def end(self) -> None:
        pass

    def close(self) -> None:
        """Finish the output and, for a file, move it into place atomically (nothing after ``abort``)."""
        if self.finished:
            return
        self.finished = True
        self.end()
        self.out.flush()
        if self._tmp is not None:
            os.fsync(self.out.fileno())
            self.out.close()
            os.chmod(self._tmp, 0o644)
            os.replace(self._tmp, self.path)
            self._tmp = None

    def abort(self) -> None:
        """Drop a partly written file (after an error or an interrupt); the target stays as it was."""
        self.finished = True
        if self._tmp is not None:
            self.out.close()
            self._tmp.unlink(missing_ok=True)
            self._tmp = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()


class JsonlWriter(_Writer):
    """One JSON object per passage and line."""

    def write_article(self, source: str, result: dict) -> None:
        for rec in passage_records(source, result):
            self.out.write(json.dumps(rec, ensure_ascii=False) + "\n")


class CsvWriter(_Writer):
    """One row per passage; topics joined by ';'; one probability column per label.

    Text cells that could start a spreadsheet formula get a leading ``'`` (``csv_cell``).
    Articles scored with a manifest add their metadata columns after ``source``; the header
    is written with the first article (or at the end, when there is none).
    """

    def begin(self) -> None:
        self.csv = csv.writer(self.out)
        self.meta_fields: list[str] | None = None

    def _header(self, meta_fields: list[str]) -> None:
        self.meta_fields = meta_fields
        self.csv.writerow(CSV_COLUMNS[:1] + meta_fields + CSV_COLUMNS[1:])

    def write_article(self, source: str, result: dict) -> None:
        if self.meta_fields is None:
            self._header(list(result.get("meta") or ()))
        for p in passage_records(source, result):
            self.csv.writerow(
                [csv_cell(source)]
                + [csv_cell(value) if isinstance(value := p.get(k), str) else value for k in self.meta_fields]
                + [p["index"], p["start"], p["end"], csv_cell(p["text"]), ";".join(p["topics"])]
                + [f"{p['topic_scores'][t]:.{SCORE_DECIMALS}f}" for t in TOPICS]
                + [p["stance"]]
                + [f"{p['stance_scores'][s]:.{SCORE_DECIMALS}f}" for s in STANCES]
            )

    def end(self) -> None:
        if self.meta_fields is None:
            self._header([])


WRITERS = {"jsonl": JsonlWriter, "csv": CsvWriter}
FORMATS = ("jsonl", "csv", "html", "parquet")


def open_writer(fmt: str, path: str | Path | None = None, stream: IO[str] | None = None, **options) -> _Writer:
    """A streaming writer for ``fmt``; ``path=None`` writes to ``stream`` (default: stdout).

    ``html`` is ``model.overview.ReportWriter`` (``options``: ``period``, ``run``), ``parquet``
    is ``model.tables.ParquetWriter`` (needs pyarrow); both load only when asked for.
    """
    if fmt == "html":
        from .overview import ReportWriter

        return ReportWriter(path, stream, **options)
    if fmt == "parquet":
        from .tables import ParquetWriter

        return ParquetWriter(path, stream)
    if fmt not in WRITERS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return WRITERS[fmt](path, stream)
