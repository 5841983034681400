"""Writers for scored articles: JSON Lines, CSV and a self-contained HTML report.

Every score a writer prints is rounded to ``SCORE_DECIMALS`` decimals (``rounded``),
the same in every format. Every writer streams: articles are written one at a time, so memory stays bounded
however many inputs there are. Files are written to a temporary file beside the
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
    return html.escape(normalize_space(text))


def format_for(path: str | None, explicit: str | None) -> str:
    """The output format: given explicitly, else from the file suffix, else JSON Lines."""
    if explicit:
        return explicit
    suffix = Path(path).suffix.lower().lstrip(".") if path else ""
    return {"csv": "csv", "html": "html", "htm": "html"}.get(suffix, "jsonl")


def rounded(score: float) -> float:
    """A score as every output prints it: rounded to ``SCORE_DECIMALS`` decimals."""
    return round(float(score), SCORE_DECIMALS)


def passage_records(source: str, result: dict) -> list[dict]:
    """Flat per-passage records, each naming its source file, scores rounded."""
    return [
        {"source": source, **p,
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

    Text cells that could start a spreadsheet formula get a leading ``'`` (``csv_cell``)."""

    def begin(self) -> None:
        self.csv = csv.writer(self.out)
        self.csv.writerow(CSV_COLUMNS)

    def write_article(self, source: str, result: dict) -> None:
        for p in passage_records(source, result):
            self.csv.writerow(
                [csv_cell(source), p["index"], p["start"], p["end"], csv_cell(p["text"]), ";".join(p["topics"])]
                + [f"{p['topic_scores'][t]:.{SCORE_DECIMALS}f}" for t in TOPICS]
                + [p["stance"]]
                + [f"{p['stance_scores'][s]:.{SCORE_DECIMALS}f}" for s in STANCES]
            )


class HtmlWriter(_Writer):
    """A self-contained page for a person to read: no script, no network, no external asset."""

    def begin(self) -> None:
        self.n_articles = 0
        self.out.write(_HTML_HEAD + _legend())

    def write_article(self, source: str, result: dict) -> None:
        self.n_articles += 1
        esc = html.escape
        s = result["summary"]
        ci = s["cooperation_index"]
        self.out.write(f'<section class="article" id="article-{self.n_articles}">\n')
        self.out.write(f"<h2><bdi>{display_text(source)}</bdi></h2>\n")
        self.out.write('<div class="summary">' + _summary_svg(s) + "<p>")
        self.out.write(f'{s["n_passages"]} passages · cooperation index '
                       f'<b>{"n/a" if ci is None else f"{rounded(ci):+}"}</b> (−1 friction … +1 cooperative)</p></div>\n')
        self.out.write('<div class="text">\n')
        for p in passage_records(source, result):
            tip = "; ".join(f"{k} {v}" for k, v in p["stance_scores"].items()) + " | " + "; ".join(
                f"{k} {v}" for k, v in p["topic_scores"].items()
            )
            tags = "".join(f'<span class="tag">{esc(t)}</span>' for t in p["topics"])
            self.out.write(
                f'<span class="passage {p["stance"]}" data-index="{p["index"]}" title="{esc(tip)}">'
                f"{display_text(p['text'])}{tags}</span>\n"
            )
        self.out.write("</div></section>\n")

    def end(self) -> None:
        if not self.n_articles:
            self.out.write("<p>No article was scored.</p>\n")
        self.out.write("</main></body></html>\n")


WRITERS = {"jsonl": JsonlWriter, "csv": CsvWriter, "html": HtmlWriter}


def open_writer(fmt: str, path: str | Path | None = None, stream: IO[str] | None = None) -> _Writer:
    """A streaming writer for ``fmt``; ``path=None`` writes to ``stream`` (default: stdout)."""
    if fmt not in WRITERS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(WRITERS)}")
    return WRITERS[fmt](path, stream)


def _legend() -> str:
    stances = "".join(f'<span class="passage {s}">{s}</span> ' for s in STANCES)
    topics = "".join(f'<span class="tag">{t}</span>' for t in TOPICS)
    return (
        f'<div class="legend"><b>Stance</b> (highlight colour): {stances} · <b>Topics</b>: {topics}'
        " · hover a passage for its scores.</div>\n"
    )


def _summary_svg(summary: dict) -> str:
    """Topic shares as bars and stance balance as one stacked bar, in inline SVG."""
    rows, y = [], 4
    for t in TOPICS:
        share = summary["topic_share"][t]
        rows.append(
            f'<text x="0" y="{y + 10}" font-size="11">{t}</text>'
            f'<rect x="62" y="{y + 1}" width="{max(share * 150, 0.5):.1f}" height="10" fill="#5c6bc0"/>'
            f'<text x="{66 + share * 150:.1f}" y="{y + 10}" font-size="10">{share:.0%}</text>'
        )
        y += 15
    n = max(summary["n_passages"], 1)
    x = 62.0
    rows.append(f'<text x="0" y="{y + 12}" font-size="11">stance</text>')
    for s in STANCES:
        w = summary["stance_counts"][s] / n * 150
        if w:
            rows.append(f'<rect x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="12" fill="{STANCE_COLOURS[s]}">'
                        f'<title>{s}: {summary["stance_counts"][s]}</title></rect>')
        x += w
    return (f'<svg class="chart" width="250" height="{y + 18}" role="img" aria-label="topic shares and stance balance"'
            f' xmlns="http://www.w3.org/2000/svg">{"".join(rows)}</svg>')


_HTML_HEAD = (
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    "<title>entente report</title><style>"
    "body{font-family:Georgia,serif;margin:0;background:#fafafa;color:#222}"
    "main{max-width:60rem;margin:auto;padding:1rem 2rem}"
    "h1{font-family:sans-serif}h2{font-family:sans-serif;font-size:1.05rem;border-bottom:1px solid #ccc}"
    ".legend{font-family:sans-serif;font-size:.85rem;padding:.5rem;background:#fff;border:1px solid #ddd}"
    ".article{background:#fff;border:1px solid #ddd;padding:0 1rem 1rem;margin:1rem 0}"
    ".summary{display:flex;gap:1rem;align-items:center;font-family:sans-serif;font-size:.85rem}"
    ".text{line-height:1.7}"
    ".passage{padding:.1rem .2rem;border-radius:3px;border-bottom:2px solid}"
    + "".join(
        f".{s}{{background:{STANCE_BACKGROUNDS[s]};border-color:{STANCE_COLOURS[s]}}}" for s in STANCES
    )
    + ".tag{font-family:sans-serif;font-size:.7rem;background:#e8eaf6;color:#283593;border-radius:8px;"
    "padding:0 .35rem;margin-left:.25rem;vertical-align:super}"
    "</style></head><body><main><h1>entente report</h1>\n"
)
