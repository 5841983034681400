"""The HTML report: one self-contained page for many articles (no script, no network, no asset).

Top to bottom: run metadata (entente version, checkpoint, date of the run), a legend, the
overview (an inline SVG timeline chart of the cooperation index with its 95% interval,
article counts and topic shares per period; then a table of articles, by date, linking to
each article), then every article as a collapsible ``<details>`` section whose heading
holds its date and title. Paragraph breaks are kept, and each passage prints its scores
in small type after its text, so they can be read on paper and touch screens (no hovering).

Article sections are spooled to a temporary file as they come and the overview, which
needs every article, is written in front of them when the report is closed: memory holds
one small row per article (``model.archive.article_row``), not the passages.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from .archive import Timeline, article_row
from .labels import STANCES, TOPICS
from .report import STANCE_BACKGROUNDS, STANCE_COLOURS, _Writer, rounded
from .report import display_text as esc  # bidi controls dropped, whitespace collapsed, escaped

TOPIC_COLOURS = {"security": "#3949ab", "energy": "#ef6c00", "taiwan": "#00897b", "ukraine": "#8e24aa"}
TOPIC_SHORT = {"security": "sec", "energy": "ene", "taiwan": "tai", "ukraine": "ukr"}
STANCE_SHORT = {"cooperative": "C", "friction": "F", "neutral": "N"}


def signed(x: float | None) -> str:
    return "n/a" if x is None else f"{rounded(x):+.2f}"


class ReportWriter(_Writer):
    """The HTML report (``open_writer("html", ...)``). ``period`` sets the timeline's resolution
    (``model.archive.PERIODS``); ``run`` is ``model.archive.run_info``'s dict (or ``None``)."""

    def __init__(self, path: str | Path | None, stream: IO[str] | None = None, *, period: str = "month",
                 run: dict | None = None):
        self.timeline = Timeline(period)
        self.run = run or {}
        super().__init__(path, stream)

    def begin(self) -> None:
        self.rows: list[tuple[int, dict]] = []
        self.body = tempfile.TemporaryFile("w+", encoding="utf-8")

    def write_article(self, source: str, result: dict) -> None:
        n = len(self.rows) + 1
        row = article_row(source, result)
        self.rows.append((n, row))
        self.timeline.add(row)
        self.body.write(article_section(n, source, row, result))

    def end(self) -> None:
        out = self.out
        out.write(HEAD)
        out.write(run_header(self.run, self.rows))
        out.write(legend())
        if self.rows:
            out.write(overview(self.timeline, [r for _, r in self.rows], [n for n, _ in self.rows]))
            out.write('<h2 class="part">Articles</h2>\n')
            self.body.seek(0)
            shutil.copyfileobj(self.body, out)
        else:
            out.write("<p>No article was scored.</p>\n")
        out.write("</main></body></html>\n")
        self.body.close()

    def abort(self) -> None:
        self.body.close()
        super().abort()


# -- header and legend ---------------------------------------------------------------------


def run_header(run: dict, rows: Sequence[tuple[int, dict]]) -> str:
    n_passages = sum(r["n_passages"] for _, r in rows)
    dated = sum(1 for _, r in rows if r["date"])
    facts = [f"{len(rows)} article{'s' * (len(rows) != 1)} ({dated} dated)", f"{n_passages} passages"]
    if run:
        facts += [f"entente {esc(run.get('version', '?'))}", f"checkpoint {esc(run.get('checkpoint', '?'))}",
                  f"unit: {esc(run.get('passage', 'sentence'))}", f"encoder: {esc(run.get('backend', 'torch'))}",
                  f"run {esc(run.get('date', ''))}"]
    return f'<p class="run">{" · ".join(facts)}</p>\n'


def legend() -> str:
    stances = " ".join(f'<span class="passage {s}">{s}</span> ({STANCE_SHORT[s]})' for s in STANCES)
    topics = " ".join(f'<span class="tag" style="border-color:{TOPIC_COLOURS[t]}">{t}</span> ({TOPIC_SHORT[t]})'
                      for t in TOPICS)
    return (
        f'<div class="legend"><b>Stance</b> (highlight): {stances}. <b>Topics</b>: {topics}.<br>'
        "After each passage, in small type: its stance probabilities (C, F, N) and topic probabilities; "
        "topics that apply are in bold. <b>Cooperation index</b>: mean over passages of "
        "P(cooperative) − P(friction), from −1 (all friction) to +1 (all cooperative).</div>\n"
    )


# -- the overview ------------------------------------------------------------------------------


def overview(timeline: Timeline, rows: list[dict], numbers: list[int]) -> str:
    parts = ['<section class="overview"><h2 class="part">Overview</h2>\n']
    trows = timeline.rows()
    if trows:
        parts.append(timeline_svg(trows, timeline.period))
    else:
        parts.append(f"<p>No article has a date precise enough for a {timeline.period}ly timeline.</p>\n")
    note = timeline.describe_left_out()
    if note:
        parts.append(f'<p class="note">The {esc(note.replace("(use --period year to count them)", "").strip())}.</p>\n')
    parts.append(article_table(rows, numbers))
    parts.append("</section>\n")
    return "".join(parts)


def _all_periods(first: str, last: str, period: str) -> list[str]:
    """Every period label from ``first`` to ``last``, gaps included, so the x axis is time."""
    def parts(label: str) -> tuple[int, int]:
        if period == "year":
            return int(label), 0
        y, rest = label.split("-")
        return int(y), int(rest.lstrip("Q")) - 1

    (y0, i0), (y1, i1) = parts(first), parts(last)
    per_year = {"year": 1, "quarter": 4, "month": 12}[period]
    out = []
    for k in range(y0 * per_year + i0, y1 * per_year + i1 + 1):
        y, i = divmod(k, per_year)
        out.append(str(y) if period == "year" else (f"{y}-Q{i + 1}" if period == "quarter" else f"{y}-{i + 1:02d}"))
    return out


def timeline_svg(trows: list[dict], period: str) -> str:
    """Three panels on one time axis: cooperation index with its 95% interval, articles per
    period, and the share of passages per topic. Numbers are drawn as text where they matter."""
    labels = _all_periods(trows[0]["period"], trows[-1]["period"], period)
    pos = {p: i for i, p in enumerate(labels)}
    width, left, right = 920, 46, 12
    step = (width - left - right) / max(len(labels), 1)

    def x(label: str) -> float:
        return left + (pos[label] + 0.5) * step

    out = []
    # panel 1: cooperation index, y in [-1, 1]
    top1, h1 = 22, 170

    def y1(v: float) -> float:
        return top1 + (1 - v) / 2 * h1

    out.append(f'<text x="{left}" y="14" class="ttl">Cooperation index by {period} (dot: mean over articles; '
               f'bar: 95% bootstrap interval)</text>')
    for v in (-1, -0.5, 0, 0.5, 1):
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y1(v):.1f}" y2="{y1(v):.1f}" '
                   f'class="{"zero" if v == 0 else "grid"}"/><text x="{left - 4}" y="{y1(v) + 4:.1f}" '
                   f'class="ax" text-anchor="end">{v:+g}</text>')
    for r in trows:
        if r["cooperation_index"] is None:
            continue
        cx, ci = x(r["period"]), r["cooperation_index"]
        colour = STANCE_COLOURS["cooperative"] if ci >= 0 else STANCE_COLOURS["friction"]
        out.append(f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{y1(r["ci_high"]):.1f}" y2="{y1(r["ci_low"]):.1f}" '
                   f'class="ci"/><circle cx="{cx:.1f}" cy="{y1(ci):.1f}" r="{min(3.5, max(1.8, step / 2.5)):.1f}" '
                   f'fill="{colour}"><title>{r["period"]}: {signed(ci)} [{signed(r["ci_low"])}, '
                   f'{signed(r["ci_high"])}], {r["articles"]} articles</title></circle>')
    # panel 2: articles per period
    top2, h2 = top1 + h1 + 30, 50
    most = max(r["articles"] for r in trows)
    out.append(f'<text x="{left}" y="{top2 - 6}" class="ttl">Articles per {period} (most: {most})</text>')
    for r in trows:
        h = r["articles"] / most * h2
        out.append(f'<rect x="{x(r["period"]) - step * 0.4:.1f}" y="{top2 + h2 - h:.1f}" width="{step * 0.8:.1f}" '
                   f'height="{h:.1f}" fill="#90a4ae"><title>{r["period"]}: {r["articles"]} articles</title></rect>')
    # panel 3: topic shares
    top3, h3 = top2 + h2 + 34, 120
    out.append(f'<text x="{left}" y="{top3 - 8}" class="ttl">Share of passages per topic</text>')
    for k, t in enumerate(TOPICS):
        out.append(f'<rect x="{left + 200 + k * 90}" y="{top3 - 17}" width="10" height="10" '
                   f'fill="{TOPIC_COLOURS[t]}"/><text x="{left + 214 + k * 90}" y="{top3 - 8}" class="ax">{t}</text>')
    peak = max(max((r[f"share_{t}"] or 0) for t in TOPICS) for r in trows) or 1.0
    scale = min(1.0, (int(peak * 10) + 1) / 10)

    def y3(v: float) -> float:
        return top3 + (1 - v / scale) * h3

    for v in (0, scale / 2, scale):
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y3(v):.1f}" y2="{y3(v):.1f}" class="grid"/>'
                   f'<text x="{left - 4}" y="{y3(v) + 4:.1f}" class="ax" text-anchor="end">{v:.0%}</text>')
    for t in TOPICS:
        segment: list[str] = []
        last = None
        for r in trows:
            if r[f"share_{t}"] is None:
                continue
            if last is not None and pos[r["period"]] != pos[last] + 1 and len(segment) > 0:
                out.append(_polyline(segment, TOPIC_COLOURS[t]))
                segment = []
            segment.append(f'{x(r["period"]):.1f},{y3(r[f"share_{t}"]):.1f}')
            last = r["period"]
        out.append(_polyline(segment, TOPIC_COLOURS[t]))
    # the time axis: one tick per year
    bottom = top3 + h3
    for label in labels:
        if period == "year" or label.endswith(("-01", "-Q1")):
            out.append(f'<line x1="{x(label) - step / 2:.1f}" x2="{x(label) - step / 2:.1f}" y1="{top1}" '
                       f'y2="{bottom}" class="year"/><text x="{x(label) - step / 2 + 2:.1f}" y="{bottom + 14}" '
                       f'class="ax">{label[:4]}</text>')
    height = bottom + 22
    return (f'<svg class="timeline" viewBox="0 0 {width} {height}" width="100%" role="img" '
            f'aria-label="cooperation index, articles and topic shares by {period}" '
            f'xmlns="http://www.w3.org/2000/svg">{"".join(out)}</svg>\n')


def _polyline(points: list[str], colour: str) -> str:
    if len(points) == 1:
        cx, cy = points[0].split(",")
        return f'<circle cx="{cx}" cy="{cy}" r="1.6" fill="{colour}"/>'
    return f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" stroke-width="1.3"/>' if points else ""


def article_table(rows: list[dict], numbers: list[int]) -> str:
    """Every article, by date (undated last), linking to its section."""
    order = sorted(range(len(rows)), key=lambda i: (rows[i]["date"] is None, rows[i]["date"] or "", numbers[i]))
    head = "".join(f"<th>{TOPIC_SHORT[t]}</th>" for t in TOPICS)
    out = ['<table class="articles"><thead><tr><th>date</th><th>title</th><th>outlet</th><th>passages</th>'
           f'<th>index</th>{head}</tr></thead><tbody>\n']
    for i in order:
        r, n = rows[i], numbers[i]
        title = esc(r["title"]) if r["title"] else f'<span class="src"><bdi>{esc(r["source"])}</bdi></span>'
        ci = r["cooperation_index"]
        cls = "" if ci is None else (' class="pos"' if ci > 0.05 else (' class="neg"' if ci < -0.05 else ""))
        shares = "".join(f"<td>{r[f'share_{t}']:.0%}</td>" for t in TOPICS)
        out.append(f'<tr><td>{esc(r["date"] or "")}</td><td><a href="#a-{n}">{title}</a></td>'
                   f'<td>{esc(r["outlet"] or "")}</td><td>{r["n_passages"]}</td><td{cls}>{signed(ci)}</td>'
                   f"{shares}</tr>\n")
    out.append("</tbody></table>\n")
    return "".join(out)


# -- one article -------------------------------------------------------------------------------


def article_section(n: int, source: str, row: dict, result: dict) -> str:
    """A collapsible section: heading (date, title), facts, summary bars, then the text by paragraph."""
    title = esc(row["title"]) if row["title"] else f"<bdi>{esc(source)}</bdi>"
    date = f'<span class="date">{esc(row["date"])}</span> ' if row["date"] else ""
    facts = [esc(row["outlet"])] if row["outlet"] else []
    if row["title"]:
        facts.append(f'<span class="src"><bdi>{esc(source)}</bdi></span>')
    if row["url"]:
        facts.append(f'<span class="src">{esc(row["url"])}</span>')
    facts.append(f'{row["n_passages"]} passages · cooperation index <b>{signed(row["cooperation_index"])}</b>')
    out = [f'<details class="article" id="a-{n}"><summary><h3>{date}{title}</h3>'
           f'<span class="facts">{" · ".join(facts)}</span></summary>\n'
           f'<div class="sums">{summary_bars(result["summary"])}</div>\n<div class="text"><p>']
    para_of = result.get("paragraph_of") or [p["index"] for p in result["passages"]]
    last = None
    for p, para in zip(result["passages"], para_of):
        if last is not None and para != last:
            out.append("</p>\n<p>")
        last = para
        out.append(passage_html(p))
    out.append("</p></div></details>\n")
    return "".join(out)


def passage_html(p: dict) -> str:
    """The passage in its stance's colour, followed by its scores in small type."""
    stance = " ".join(f"{STANCE_SHORT[s]} {rounded(v):.2f}" for s, v in p["stance_scores"].items())
    topics = " ".join(
        (f"<b>{TOPIC_SHORT[t]} {rounded(v):.2f}</b>" if t in p["topics"] else f"{TOPIC_SHORT[t]} {rounded(v):.2f}")
        for t, v in p["topic_scores"].items()
    )
    tags = "".join(f'<span class="tag" style="border-color:{TOPIC_COLOURS[t]}">{t}</span>' for t in p["topics"])
    return (f'<span class="passage {p["stance"]}">{esc(p["text"])}</span>{tags}'
            f'<small class="sc">{stance} · {topics}</small> ')


def summary_bars(summary: dict) -> str:
    """Topic shares as bars and the stance balance as one stacked bar, with their numbers."""
    rows, y = [], 2
    for t in TOPICS:
        share = summary["topic_share"][t]
        rows.append(f'<text x="0" y="{y + 9}" class="ax">{t}</text><rect x="58" y="{y + 1}" '
                    f'width="{max(share * 140, 0.5):.1f}" height="9" fill="{TOPIC_COLOURS[t]}"/>'
                    f'<text x="{62 + share * 140:.1f}" y="{y + 9}" class="ax">{share:.0%}</text>')
        y += 13
    n = max(summary["n_passages"], 1)
    x = 58.0
    rows.append(f'<text x="0" y="{y + 10}" class="ax">stance</text>')
    for s in STANCES:
        count = summary["stance_counts"][s]
        w = count / n * 140
        if w:
            rows.append(f'<rect x="{x:.1f}" y="{y + 1}" width="{w:.1f}" height="11" fill="{STANCE_COLOURS[s]}"/>')
        x += w
    counts = " ".join(f"{STANCE_SHORT[s]} {summary['stance_counts'][s]}" for s in STANCES)
    rows.append(f'<text x="{x + 4:.1f}" y="{y + 10}" class="ax">{counts}</text>')
    return (f'<svg width="290" height="{y + 16}" role="img" aria-label="topic shares and stance counts" '
            f'xmlns="http://www.w3.org/2000/svg">{"".join(rows)}</svg>')


HEAD = (
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    "<title>entente report</title><style>"
    "body{font-family:Georgia,serif;margin:0;background:#fafafa;color:#222}"
    "main{max-width:64rem;margin:auto;padding:1rem 2rem}"
    "h1,h2,h3,.run,.legend,.facts,table,.note{font-family:sans-serif}"
    "h2.part{font-size:1.15rem;border-bottom:1px solid #bbb;margin-top:1.6rem}"
    ".run{font-size:.85rem;color:#444}.note{font-size:.8rem;color:#555}"
    ".legend{font-size:.8rem;padding:.5rem;background:#fff;border:1px solid #ddd;line-height:1.8}"
    "svg text{font-family:sans-serif}.ax{font-size:10px;fill:#333}.ttl{font-size:12px;font-weight:bold;fill:#222}"
    ".grid{stroke:#e3e3e3}.zero{stroke:#999}.year{stroke:#eee}.ci{stroke:#607d8b;stroke-width:1.4}"
    "svg.timeline{background:#fff;border:1px solid #ddd}"
    "table.articles{border-collapse:collapse;font-size:.78rem;width:100%;background:#fff}"
    "table.articles th{position:sticky;top:0;background:#eceff1;text-align:left}"
    "table.articles td,table.articles th{padding:.15rem .35rem;border-bottom:1px solid #eee}"
    "table.articles td:nth-child(n+4){text-align:right;font-variant-numeric:tabular-nums}"
    "table.articles td:first-child{white-space:nowrap}"
    ".pos{color:#2e7d32}.neg{color:#c62828}.src{color:#666;font-size:.85em;word-break:break-all}"
    ".article{background:#fff;border:1px solid #ddd;padding:.3rem 1rem;margin:.5rem 0}"
    ".article summary{cursor:pointer}.article h3{display:inline;font-size:1rem}"
    ".date{color:#555;font-weight:normal;margin-right:.3rem}.facts{display:block;font-size:.78rem;color:#444;"
    "margin:.2rem 0 .2rem 1.1rem}.sums{margin:.4rem 0}"
    ".text p{line-height:1.75;margin:.6rem 0}"
    ".passage{padding:.05rem .15rem;border-radius:3px;border-bottom:2px solid}"
    + "".join(f".{s}{{background:{STANCE_BACKGROUNDS[s]};border-color:{STANCE_COLOURS[s]}}}" for s in STANCES)
    + ".tag{font-family:sans-serif;font-size:.68rem;border:1px solid;border-radius:8px;padding:0 .3rem;"
    "margin-left:.2rem}"
    ".sc{font-family:monospace;font-size:.66rem;color:#555;margin-left:.3rem;white-space:nowrap}"
    ".sc b{color:#111}"
    "@media print{.article{break-inside:avoid-page}table.articles th{position:static}}"
    "</style></head><body><main><h1>entente report</h1>\n"
)
