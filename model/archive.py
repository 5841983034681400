"""Scoring a news archive: many articles with their metadata, an article table, a timeline.

Analysts score whole archives and ask how the relationship moves over time. This module
is the one owner of that view:

* **metadata**: a manifest (JSON Lines; ``id``, ``date``, ``year``, ``title``, ``outlet``,
  ``url``) is matched to input files by name (``a001.txt`` <-> ``a001``) and travels with
  every article into every output (``read_manifests``, ``META_FIELDS``);
* **scoring at archive speed** (``iter_scored``): a reader thread reads and splits the
  files while the encoder runs; passages of many articles are encoded together in
  chunks, sorted by length inside each chunk (``model.predict``'s own path), and every
  article is yielded, in input order, as soon as its chunk is done, so memory stays flat
  however large the archive;
* **the article table** (``article_row``): passages, topic shares, stance counts and the
  cooperation index of each article (``model.predict.summarize``), with its metadata;
* **the timeline** (``Timeline``): per month, quarter or year, the mean cooperation index
  over articles with a percentile-bootstrap 95% interval, topic and stance shares;
* **the Python API** (``score_articles``): everything in memory, as lists of dicts and, with
  pandas installed, as DataFrames.

The command line (``entente score --manifest ... --articles ... --timeline ...``) and the
HTML overview (``model.overview``) are thin layers over these functions.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import queue
import re
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .labels import STANCES, TOPICS

log = logging.getLogger(__name__)

META_FIELDS: tuple[str, ...] = ("id", "date", "title", "outlet", "url")
"""Metadata every output carries for an article scored with a manifest (``None`` when unknown)."""

PERIODS = ("month", "quarter", "year")
Period = Literal["month", "quarter", "year"]
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
CHUNK_PASSAGES = 2048
"""Passages encoded together (from as many articles as it takes): large enough that sorting
by length leaves little padding, small enough that memory stays flat."""
FIRST_CHUNK_PASSAGES = 256
PREFETCH_ARTICLES = 256

ARTICLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("source", "string"), ("id", "string"), ("date", "string"), ("title", "string"), ("outlet", "string"),
    ("url", "string"), ("n_passages", "int"),
    *((f"share_{t}", "float") for t in TOPICS),
    *((f"n_{s}", "int") for s in STANCES),
    ("cooperation_index", "float"),
)
"""The article table's columns and their kinds (``model.tables`` maps kinds to file types)."""

TIMELINE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("period", "string"), ("start", "string"), ("articles", "int"), ("passages", "int"),
    ("cooperation_index", "float"), ("ci_low", "float"), ("ci_high", "float"),
    *((f"share_{t}", "float") for t in TOPICS),
    *((f"share_{s}", "float") for s in STANCES),
)
"""The timeline's columns: ``start`` is the first day of the period (ISO), for plotting."""

_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


# -- metadata ------------------------------------------------------------------------------


def parse_date(value: Any) -> tuple[int, int | None, int | None] | None:
    """``(year, month, day)`` of a ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` string (missing parts ``None``).

    ``None`` for ``None`` or an empty string; ``ValueError`` for anything else that is not
    such a date (``2021-13``, ``15/03/2014``, ``2021-02-30``).
    """
    if value is None or value == "":
        return None
    m = _DATE.match(str(value).strip())
    if not m:
        raise ValueError(f"not a YYYY, YYYY-MM or YYYY-MM-DD date: {value!r}")
    year, month, day = (int(g) if g else None for g in m.groups())
    dt.date(year, month or 1, day or 1)  # raises ValueError for month 13 or 30 February
    return year, month, day


def clean_meta(record: Mapping[str, Any], where: str = "manifest") -> dict:
    """The ``META_FIELDS`` of one manifest record, the date checked.

    The date is the record's ``date``, else its ``year`` alone. A malformed date is a
    warning naming ``where`` and the date becomes ``None`` (the article is still scored).
    """
    meta = {k: (None if record.get(k) is None else str(record[k])) for k in META_FIELDS}
    if meta["date"] is None and record.get("year") not in (None, ""):
        meta["date"] = str(record["year"])
    try:
        parse_date(meta["date"])
    except ValueError as e:
        log.warning("%s: article %s: %s; scored without a date", where, meta["id"], e)
        meta["date"] = None
    return meta


def read_manifests(paths: Iterable[str | Path]) -> dict[str, dict]:
    """Metadata by article id from JSON Lines manifests (later files win for a repeated id).

    A line that is not a JSON object with an ``id`` is a warning and skipped; a missing
    file is a ``FileNotFoundError``.
    """
    by_id: dict[str, dict] = {}
    for path in paths:
        path = Path(path)
        with path.open(encoding="utf-8-sig") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as e:
                    log.warning("%s:%d: not JSON (%s); line skipped", path, n, e.msg)
                    continue
                if not isinstance(record, dict) or record.get("id") in (None, ""):
                    log.warning("%s:%d: a record needs an \"id\"; line skipped", path, n)
                    continue
                by_id[str(record["id"])] = clean_meta(record, f"{path}:{n}")
    return by_id


def article_id(source: str | Path) -> str:
    """The id a manifest gives an input file: its name without ``.txt``."""
    name = Path(source).name
    return name[:-4] if name.lower().endswith(".txt") else name


# -- inputs and streaming scoring ----------------------------------------------------------


@dataclass
class ArticleInput:
    """One article to score: its text, or a file to read it from, and its metadata.

    ``source`` is the name outputs show (a path, or a label for a text); ``meta`` is
    ``None`` when scoring without a manifest, else a dict of ``META_FIELDS``.
    """

    source: str
    text: str | None = None
    path: Path | None = None
    meta: dict | None = None


@dataclass
class ScoredArticle:
    """An article as ``iter_scored`` yields it: ``result`` (as ``score_article`` returns it, plus
    ``meta`` when given and ``paragraph_of``: the paragraph number of each passage), or ``error``."""

    source: str
    meta: dict | None
    result: dict | None = None
    error: str | None = None


def read_text(article: ArticleInput) -> str:
    """Default reader: the file as UTF-8 (a byte-order mark dropped, bad bytes replaced)."""
    return Path(article.path).read_bytes().decode("utf-8-sig", errors="replace")


def paragraph_numbers(text: str, passage: str = "sentence") -> list[int]:
    """For each passage of ``text``, the number of the paragraph it lies in (for the report)."""
    return _split_article(text, passage)[1]


def _split_article(text: str, passage: str) -> tuple[list, list[int]]:
    """Passages of ``text`` and, for each, the number of the paragraph it lies in."""
    from .text import split_paragraphs, split_passages

    spans = split_passages(text, passage)
    if passage == "paragraph":
        return spans, [p.index for p in spans]
    paragraphs = split_paragraphs(text)  # same split, cached by the splitter
    para_of, j = [], 0
    for s in spans:
        while j + 1 < len(paragraphs) and s.start >= paragraphs[j + 1].start:
            j += 1
        para_of.append(j)
    return spans, para_of


_END = object()


def _reader(inputs: Iterable[ArticleInput], passage: str, read: Callable[[ArticleInput], str],
            read_errors: tuple[type[BaseException], ...], out: queue.Queue, stop: threading.Event) -> None:
    """Thread body: read and split each input, in order, into ``out`` (bounded); errors travel too."""

    def put(item) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    try:
        for article in inputs:
            try:
                text = article.text if article.text is not None else read(article)
            except read_errors as e:
                if not put((article, None, None, str(e))):
                    return
                continue
            spans, para_of = _split_article(text, passage)
            if not put((article, spans, para_of, None)):
                return
        put(_END)
    except BaseException as e:  # an unexpected failure: the consumer raises it
        put(e)


_malloc_trim = None  # glibc's malloc_trim, found on first use (False: none)


def release_freed_memory() -> None:
    """Give the heap's freed pages back to the operating system (glibc's ``malloc_trim``).

    Called after every chunk of an archive. The encoder allocates and frees activations of a
    new size with every batch; glibc keeps the freed space in its heap, where it fragments,
    so resident memory would creep up with the number of chunks, not with what is alive.
    Trimming costs a few milliseconds a chunk. Without glibc (macOS, musl) it does nothing.
    """
    global _malloc_trim
    if _malloc_trim is None:
        try:
            import ctypes

            _malloc_trim = ctypes.CDLL(None).malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


def iter_scored(
    inputs: Iterable[ArticleInput],
    *,
    passage: str = "sentence",
    checkpoint: str | Path | None = None,
    batch_size: int = 64,
    backend: str = "torch",
    read: Callable[[ArticleInput], str] = read_text,
    read_errors: tuple[type[BaseException], ...] = (OSError, UnicodeError),
    chunk_passages: int = CHUNK_PASSAGES,
) -> Iterator[ScoredArticle]:
    """Score many articles, yielding one ``ScoredArticle`` per input in input order.

    A reader thread reads and splits files ahead (at most ``PREFETCH_ARTICLES``) while the
    encoder works; passages of consecutive articles are pooled until ``chunk_passages`` (the
    first chunks smaller, from ``FIRST_CHUNK_PASSAGES`` doubling, so encoding starts early) and
    scored by one ``model.predict`` pass (sorted by length there, the same decisions and
    probabilities as ``predict``). An input whose ``read`` raises one of ``read_errors`` is
    yielded with ``error`` set and the others go on. Memory is bounded by the chunk and the
    read-ahead, not by the archive.
    """
    from .predict import _records, load_encoder, load_model, summarize

    if passage not in ("sentence", "paragraph"):
        raise ValueError(f"passage must be 'sentence' or 'paragraph', not {passage!r}")
    items: queue.Queue = queue.Queue(maxsize=PREFETCH_ARTICLES)
    stop = threading.Event()
    thread = threading.Thread(target=_reader, args=(inputs, passage, read, read_errors, items, stop),
                              name="entente-reader", daemon=True)
    thread.start()  # before the model loads (torch's import included): the first articles are split meanwhile
    pending: list[tuple] = []
    n_pending = 0
    limit = min(chunk_passages, FIRST_CHUNK_PASSAGES)  # small at first: the encoder starts early

    def flush() -> Iterator[ScoredArticle]:
        texts = [s.text for article, spans, _, error in pending if error is None for s in spans]
        records = _records(texts, model, encoder, batch_size) if texts else []
        at = 0
        for article, spans, para_of, error in pending:
            if error is not None:
                yield ScoredArticle(article.source, article.meta, error=error)
                continue
            preds = records[at : at + len(spans)]
            at += len(spans)
            passages = [{"index": s.index, "start": s.start, "end": s.end, **p} for s, p in zip(spans, preds)]
            result = {"passages": passages, "summary": summarize(passages), "paragraph_of": para_of}
            if article.meta is not None:
                result["meta"] = article.meta
            yield ScoredArticle(article.source, article.meta, result=result)
        pending.clear()

    try:
        model = load_model(checkpoint)
        encoder = load_encoder(checkpoint, backend)
        while True:
            item = items.get()
            if item is _END:
                break
            if isinstance(item, BaseException):
                raise item
            pending.append(item)
            n_pending += len(item[1] or ())
            if n_pending >= limit:
                yield from flush()
                release_freed_memory()
                n_pending = 0
                limit = min(chunk_passages, limit * 2)
        yield from flush()
    finally:
        stop.set()
        thread.join(timeout=5)


# -- the article table ---------------------------------------------------------------------


def article_row(source: str, result: dict) -> dict:
    """One row of the article table (``ARTICLE_COLUMNS``) from a scored article; scores unrounded."""
    meta = result.get("meta") or {}
    s = result["summary"]
    return {
        "source": source,
        "id": meta.get("id") or article_id(source),
        **{k: meta.get(k) for k in META_FIELDS if k != "id"},
        "n_passages": s["n_passages"],
        **{f"share_{t}": s["topic_share"][t] for t in TOPICS},
        **{f"n_{st}": s["stance_counts"][st] for st in STANCES},
        "cooperation_index": s["cooperation_index"],
    }


# -- the timeline --------------------------------------------------------------------------


def period_of(date: str | None, period: Period) -> tuple[str, str] | None:
    """``(period label, first day ISO)`` of a date, or ``None`` when it is too coarse (a year
    alone for a month or quarter) or missing. Labels: ``2022``, ``2022-Q1``, ``2022-03``."""
    parsed = parse_date(date)
    if parsed is None:
        return None
    year, month, _ = parsed
    if period == "year":
        return str(year), f"{year}-01-01"
    if month is None:
        return None
    if period == "quarter":
        q = (month - 1) // 3 + 1
        return f"{year}-Q{q}", f"{year}-{3 * q - 2:02d}-01"
    return f"{year}-{month:02d}", f"{year}-{month:02d}-01"


def bootstrap_interval(values, resamples: int = BOOTSTRAP_RESAMPLES, seed: int | list[int] = BOOTSTRAP_SEED,
                       level: float = 0.95) -> tuple[float, float]:
    """Percentile-bootstrap interval of the mean of ``values`` (resampled with replacement)."""
    import numpy as np

    x = np.asarray(values, dtype=np.float64)
    if len(x) == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(resamples, len(x)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


@dataclass
class Timeline:
    """Collects what the timeline needs from each article row (a few numbers, not the row), then
    gives one row per period with dated articles (``rows``).

    ``left_out``: articles not in any period of this resolution, by reason: ``"year only"``
    (dated only to a year, in a monthly or quarterly timeline) and ``"undated"``.
    """

    period: Period = "month"
    resamples: int = BOOTSTRAP_RESAMPLES
    seed: int = BOOTSTRAP_SEED
    _by_period: dict[str, list] = field(default_factory=dict)
    left_out: dict[str, int] = field(default_factory=lambda: {"year only": 0, "undated": 0})

    def __post_init__(self):
        if self.period not in PERIODS:
            raise ValueError(f"period must be one of {', '.join(PERIODS)}, not {self.period!r}")

    def add(self, row: Mapping[str, Any]) -> None:
        """Count one article-table row in its period (or in ``left_out``)."""
        key = period_of(row.get("date"), self.period)
        if key is None:
            self.left_out["undated" if not row.get("date") else "year only"] += 1
            return
        n = row["n_passages"]
        entry = self._by_period.setdefault(key[0], [key[1], 0, 0, [0] * len(TOPICS), [0] * len(STANCES), []])
        entry[1] += 1
        entry[2] += n
        for i, t in enumerate(TOPICS):
            entry[3][i] += round(row[f"share_{t}"] * n)
        for i, s in enumerate(STANCES):
            entry[4][i] += row[f"n_{s}"]
        if row["cooperation_index"] is not None:
            entry[5].append(row["cooperation_index"])

    def rows(self) -> list[dict]:
        """One row per period (``TIMELINE_COLUMNS``), in time order. The interval resamples the
        period's articles ``resamples`` times with a seed fixed per period, so a period's interval
        does not depend on the other periods; ``None`` where no article had a passage."""
        out = []
        for label, (start, articles, passages, topics, stances, index) in sorted(self._by_period.items()):
            low, high = (bootstrap_interval(index, self.resamples, [self.seed, zlib.crc32(label.encode())])
                         if index else (None, None))
            out.append({
                "period": label, "start": start, "articles": articles, "passages": passages,
                "cooperation_index": sum(index) / len(index) if index else None, "ci_low": low, "ci_high": high,
                **{f"share_{t}": (topics[i] / passages if passages else None) for i, t in enumerate(TOPICS)},
                **{f"share_{s}": (stances[i] / passages if passages else None) for i, s in enumerate(STANCES)},
            })
        return out

    def describe_left_out(self) -> str | None:
        """A sentence saying which articles the timeline leaves out, or ``None``."""
        parts = []
        if self.left_out["year only"]:
            parts.append(f"{self.left_out['year only']} dated only to a year (use --period year to count them)")
        if self.left_out["undated"]:
            parts.append(f"{self.left_out['undated']} undated")
        return f"{self.period}ly timeline leaves out {' and '.join(parts)}" if parts else None


def timeline(article_rows: Iterable[Mapping[str, Any]], period: Period = "month", **options) -> Timeline:
    """A ``Timeline`` filled with ``article_rows`` (``Timeline.rows()`` gives the table)."""
    t = Timeline(period, **options)
    for row in article_rows:
        t.add(row)
    return t


# -- run metadata ------------------------------------------------------------------------------


def run_info(checkpoint: str | Path | None, passage: str, backend: str) -> dict:
    """What a report says about its run: entente version, checkpoint, unit, backend, date (UTC)."""
    from .checkpoint import package_version, resolve

    path = resolve(checkpoint)
    try:
        shown = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        shown = str(path)
    if shown.startswith(".." + os.sep + ".."):
        shown = str(path)
    return {"version": package_version(), "checkpoint": shown, "passage": passage, "backend": backend,
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


# -- the Python API ----------------------------------------------------------------------------


@dataclass
class ArchiveScores:
    """What ``score_articles`` returns: passage rows, the article table and the timeline (lists of
    dicts; ``to_pandas()`` for DataFrames), and the articles the timeline left out."""

    passages: list[dict]
    articles: list[dict]
    timeline: list[dict]
    left_out: dict[str, int]
    errors: dict[str, str]

    def to_pandas(self):
        """``(passages, articles, timeline)`` as pandas DataFrames (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - pandas comes with the test extra
            raise ImportError("to_pandas() needs pandas: pip install pandas") from None
        return (pd.DataFrame(self.passages), pd.DataFrame(self.articles, columns=[c for c, _ in ARTICLE_COLUMNS]),
                pd.DataFrame(self.timeline, columns=[c for c, _ in TIMELINE_COLUMNS]))


def as_inputs(articles: Iterable[str | os.PathLike | Mapping[str, Any]] | str | os.PathLike,
              manifest: Mapping[str, Mapping] | Iterable[str | Path] | str | Path | None = None,
              ) -> Iterator[ArticleInput]:
    """Normalise what ``score_articles`` accepts into ``ArticleInput``s (lazily).

    ``articles``: a folder (every ``.txt`` under it), or an iterable of texts (``str``), file
    paths (``pathlib.Path``) and dicts with ``text`` or ``path`` plus any of ``META_FIELDS``.
    ``manifest``: manifest file path(s), or metadata by id; matched by id (the file name
    without ``.txt``, or a dict's ``id``). With a manifest, every article carries
    ``META_FIELDS`` (``None`` where unknown); without one, only dicts' own metadata.
    """
    if isinstance(manifest, (str, Path)):
        manifest = [manifest]
    if manifest is not None and not isinstance(manifest, Mapping):
        manifest = read_manifests(manifest)
    if isinstance(articles, (str, os.PathLike)) and Path(articles).is_dir():
        articles = sorted(f for f in Path(articles).rglob("*.txt") if f.is_file())
    for n, item in enumerate(articles):
        if isinstance(item, os.PathLike):
            inp = ArticleInput(str(item), path=Path(item))
            given: dict = {}
        elif isinstance(item, str):
            inp, given = ArticleInput(f"text-{n}", text=item), {}
        elif isinstance(item, Mapping):
            given = dict(item)
            if given.get("text") is None and given.get("path") is None:
                raise ValueError(f"article {n}: a dict needs 'text' or 'path'")
            path = None if given.get("path") is None else Path(given["path"])
            source = str(given.get("source") or path or given.get("id") or f"text-{n}")
            inp = ArticleInput(source, text=given.get("text"), path=path)
        else:
            raise TypeError(f"article {n}: expected a str, a path or a dict, got {type(item).__name__}")
        inp.meta = manifest_meta(inp.source, manifest, given)
        yield inp


def manifest_meta(source: str, manifest: Mapping[str, Mapping] | None, given: Mapping[str, Any] | None = None,
                  ) -> dict | None:
    """An article's ``META_FIELDS``: its manifest record (by ``article_id``, or ``given["id"]``)
    overridden by metadata ``given`` with it; ``None`` with neither manifest nor metadata."""
    given = given or {}
    if manifest is None and not any(k in given for k in META_FIELDS if k != "id"):
        return None
    ident = str(given.get("id") or article_id(source))
    return clean_meta({"id": ident, **(manifest or {}).get(ident, {}),
                       **{k: v for k, v in given.items() if k in META_FIELDS or k == "year"}}, f"article {ident}")


class ArchiveTables:
    """The archive's table outputs while scoring: the article table streamed row by row to
    ``articles`` and the timeline written to ``timeline`` on close (either may be ``None``).

    A context manager: on an error inside it, or after ``abort`` (a run that scored
    nothing), neither file is written and existing ones stay as they were.
    """

    def __init__(self, articles: str | Path | None, timeline: str | Path | None, period: Period = "month"):
        from .tables import open_table

        self.timeline = Timeline(period)
        self.timeline_path = timeline
        self.articles = open_table(articles, ARTICLE_COLUMNS) if articles else None
        self.left_out_note: str | None = None
        self.aborted = False

    def add(self, source: str, result: dict) -> dict:
        """Record one scored article; returns its article-table row."""
        row = article_row(source, result)
        self.timeline.add(row)
        if self.articles is not None:
            self.articles.write_row(row)
        return row

    def abort(self) -> None:
        """Write neither table: the article table's temporary file is removed."""
        self.aborted = True
        if self.articles is not None:
            self.articles.abort()

    def close(self) -> None:
        from .tables import open_table

        if self.aborted:
            return
        if self.articles is not None:
            self.articles.close()
        if self.timeline_path:
            with open_table(self.timeline_path, TIMELINE_COLUMNS) as out:
                out.write_rows(self.timeline.rows())
            self.left_out_note = self.timeline.describe_left_out()

    def __enter__(self) -> "ArchiveTables":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        elif self.articles is not None:
            self.articles.abort()


def score_articles(
    articles: Iterable[str | os.PathLike | Mapping[str, Any]] | str | os.PathLike,
    manifest: Mapping[str, Mapping] | Iterable[str | Path] | str | Path | None = None,
    *,
    period: Period = "month",
    passage: str = "sentence",
    checkpoint: str | Path | None = None,
    batch_size: int = 64,
    backend: str = "torch",
) -> ArchiveScores:
    """Score many articles in memory: passage rows, the article table and the timeline.

    See ``as_inputs`` for what ``articles`` and ``manifest`` may be. Passage rows are flat
    (``model.tables.passage_row``: metadata, offsets, text, topics, one probability column
    per label, unrounded). For archives too large to hold, iterate ``iter_scored`` instead
    (or use ``entente score``, which streams to files).
    """
    from .tables import passage_row

    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
    passages, rows, errors = [], [], {}
    tl = Timeline(period)
    for item in iter_scored(as_inputs(articles, manifest), passage=passage, checkpoint=checkpoint,
                            batch_size=batch_size, backend=backend):
        if item.error is not None:
            errors[item.source] = item.error
            continue
        passages.extend(passage_row(item.source, item.meta, p) for p in item.result["passages"])
        row = article_row(item.source, item.result)
        rows.append(row)
        tl.add(row)
    return ArchiveScores(passages, rows, tl.rows(), dict(tl.left_out), errors)
