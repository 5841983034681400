"""Load the hand labels as a ``datasets.Dataset`` and check them against the corpus.

``python -m training.data --check`` (also ``make check-labels``) fails on an unknown
label, topics out of order, a record whose text is not what the splitter produces for
its article, a unit left unlabelled or labelled twice, and the same sentence text with
conflicting labels.

A piece the splitter emits that both annotation passes read as no unit under the
codebook (a photo caption, a byline, a bare noun-phrase title, subscription text) is
listed with the reason in ``labels/non_units.jsonl`` instead of being labelled; the check
counts it as covered and fails if it is also labelled.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import defaultdict
from pathlib import Path

from model.labels import STANCES, TOPICS, order_topics, stance_to_id, topics_to_multi_hot
from model.text import split_sentences

ROOT = Path(__file__).resolve().parent.parent
LABELS = ROOT / "labels" / "sentences.jsonl"
NON_UNITS = ROOT / "labels" / "non_units.jsonl"
CORPUS = ROOT / "corpus"
REQUIRED = ("id", "doc_id", "sent_idx", "text", "topics", "stance")


def unit_id(doc_id: str, text: str, occurrence: int = 1) -> str:
    """A stable record id: the article plus a hash of the unit's text (survives re-numbering).

    An article that repeats a sentence word for word (a026, a094) gets ``-2`` on the
    second occurrence, so ids stay unique.
    """
    base = f"{doc_id}-{hashlib.sha1(text.encode('utf-8')).hexdigest()[:8]}"
    return base if occurrence == 1 else f"{base}-{occurrence}"


def article_year(record: dict) -> int | None:
    """A manifest record's year: its ``date``'s year, else the estimated ``year``, else None."""
    date = record.get("date")
    return int(str(date)[:4]) if date else record.get("year")


def read_jsonl(path: str | Path) -> list[dict]:
    """Read a JSON Lines file; a malformed line raises ``ValueError`` naming it."""
    records = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}:{n}: not valid JSON ({e.msg})") from None
    return records


def corpus_units(corpus: str | Path = CORPUS) -> dict[str, list[str]]:
    """Every article's units as the splitter cuts them, by article id (from the manifest)."""
    corpus = Path(corpus)
    units = {}
    for rec in read_jsonl(corpus / "manifest.jsonl"):
        text = (corpus / "articles" / f"{rec['id']}.txt").read_text(encoding="utf-8")
        units[rec["id"]] = [p.text for p in split_sentences(text)]
    return units


def check_records(
    records: list[dict], units: dict[str, list[str]] | None = None, non_units: list[dict] | None = None
) -> list[str]:
    """Every problem found in ``records`` (an empty list means the labels are valid).

    ``non_units`` are splitter pieces read as no unit (``labels/non_units.jsonl``): each
    must match the splitter's output, and none may be labelled too.
    """
    units = corpus_units() if units is None else units
    problems: list[str] = []
    seen: dict[tuple[str, int], int] = {}
    excluded: set[tuple[str, int]] = set()
    for record in non_units or []:
        doc, idx = record.get("doc_id"), record.get("sent_idx")
        if doc not in units or not isinstance(idx, int) or not 0 <= idx < len(units[doc]):
            problems.append(f"non-unit {record.get('id', '?')}: no such unit {doc}[{idx}]")
        elif units[doc][idx] != record.get("text"):
            problems.append(f"non-unit {record.get('id', '?')}: text differs from the splitter's unit {doc}[{idx}]")
        elif not record.get("why"):
            problems.append(f"non-unit {record.get('id', '?')}: no reason given")
        else:
            excluded.add((doc, idx))
    by_text: dict[str, set] = defaultdict(set)
    ids: set[str] = set()
    for number, record in enumerate(records, 1):
        where = f"record {number} ({record.get('id', '?')})"
        missing = [k for k in REQUIRED if k not in record]
        if missing:
            problems.append(f"{where}: missing field(s) {', '.join(missing)}")
            continue
        if record["id"] in ids:
            problems.append(f"{where}: duplicate id")
        ids.add(record["id"])
        topics, stance = record["topics"], record["stance"]
        if not isinstance(topics, list):
            problems.append(f"{where}: topics must be a list")
            continue
        unknown = [t for t in topics if t not in TOPICS]
        if unknown:
            problems.append(f"{where}: unknown topic(s) {unknown}; allowed {list(TOPICS)}")
        elif topics != order_topics(topics):
            problems.append(f"{where}: topics {topics} out of order or repeated; expected {order_topics(topics)}")
        if stance not in STANCES:
            problems.append(f"{where}: unknown stance {stance!r}; allowed {list(STANCES)}")
        doc, idx = record["doc_id"], record["sent_idx"]
        if doc not in units:
            problems.append(f"{where}: unknown article {doc!r}")
            continue
        if not isinstance(idx, int) or not 0 <= idx < len(units[doc]):
            problems.append(f"{where}: sent_idx {idx!r} out of range for {doc} ({len(units[doc])} units)")
            continue
        if units[doc][idx] != record["text"]:
            problems.append(f"{where}: text differs from the splitter's unit {doc}[{idx}]: {units[doc][idx]!r}")
        if (doc, idx) in seen:
            problems.append(f"{where}: unit {doc}[{idx}] labelled twice (also record {seen[doc, idx]})")
        if (doc, idx) in excluded:
            problems.append(f"{where}: unit {doc}[{idx}] is listed as a non-unit and labelled too")
        seen[doc, idx] = number
        by_text[record["text"]].add((tuple(topics), stance))
    for doc, texts in units.items():
        unlabelled = [i for i in range(len(texts)) if (doc, i) not in seen and (doc, i) not in excluded]
        if unlabelled:
            problems.append(f"article {doc}: unit(s) {unlabelled} not labelled")
    for text, labels in by_text.items():
        if len(labels) > 1:
            problems.append(f"same text with conflicting labels {sorted(labels)}: {text[:80]!r}")
    return problems


def read_non_units(labels: str | Path = LABELS) -> list[dict]:
    """The non-units listed beside a label file (``non_units.jsonl``), or none."""
    path = Path(labels).with_name(NON_UNITS.name)
    return read_jsonl(path) if path.exists() else []


def load_records(path: str | Path = LABELS, check: bool = True) -> list[dict]:
    """Read the label file; with ``check``, raise ``ValueError`` listing every problem."""
    records = read_jsonl(path)
    if check:
        problems = check_records(records, non_units=read_non_units(path))
        if problems:
            raise ValueError(f"{path}: {len(problems)} problem(s):\n  " + "\n  ".join(problems[:50]))
    return records


def to_dataset(records: list[dict]):
    """Records as a ``datasets.Dataset``: text, multi-hot topics, stance id, doc_id (for grouped splits)."""
    from datasets import ClassLabel, Dataset, Features, Sequence, Value

    features = Features(
        {
            "id": Value("string"),
            "doc_id": Value("string"),
            "sent_idx": Value("int32"),
            "text": Value("string"),
            "topics": Sequence(Value("int8"), length=len(TOPICS)),
            "stance": ClassLabel(names=list(STANCES)),
        }
    )
    return Dataset.from_dict(
        {
            "id": [r["id"] for r in records],
            "doc_id": [r["doc_id"] for r in records],
            "sent_idx": [r["sent_idx"] for r in records],
            "text": [r["text"] for r in records],
            "topics": [topics_to_multi_hot(r["topics"]) for r in records],
            "stance": [stance_to_id(r["stance"]) for r in records],
        },
        features=features,
    )


def load_dataset(path: str | Path = LABELS, check: bool = True):
    """The hand labels as a Hugging Face ``datasets.Dataset`` (checked against the corpus first)."""
    return to_dataset(load_records(path, check=check))


def counts_markdown(records: list[dict], corpus: str | Path = CORPUS) -> str:
    """Label counts per year and per article as Markdown tables (``labels/counts.md``)."""
    manifest = {r["id"]: r for r in read_jsonl(Path(corpus) / "manifest.jsonl")}

    def year(doc: str):
        return article_year(manifest.get(doc, {}))

    columns = ["units", *TOPICS, "no topic", *STANCES]

    def row(group: list[dict]) -> list[int]:
        return ([len(group)] + [sum(t in r["topics"] for r in group) for t in TOPICS]
                + [sum(not r["topics"] for r in group)] + [sum(r["stance"] == s for r in group) for s in STANCES])

    def table(key_name: str, groups: dict) -> str:
        head = f"| {key_name} | " + " | ".join(columns) + " |\n|" + "---|" * (len(columns) + 1) + "\n"
        return head + "".join(f"| {key} | " + " | ".join(map(str, row(group))) + " |\n" for key, group in groups.items())

    by_year: dict = defaultdict(list)
    by_article: dict = defaultdict(list)
    for r in records:
        by_year[year(r["doc_id"]) or "undated"].append(r)
        by_article[r["doc_id"]].append(r)
    years = dict(sorted(by_year.items(), key=lambda kv: (kv[0] == "undated", str(kv[0]))))
    articles = {f"{doc} ({year(doc) or '—'}, {manifest.get(doc, {}).get('outlet') or '—'})": group
                for doc, group in sorted(by_article.items())}
    return ("# Label counts\n\nGenerated by `python -m training.data --counts`; years from `corpus/manifest.jsonl` "
            "(the date's year, else the estimated year).\n\n## Per year\n\n" + table("year", years)
            + "\n## Per article\n\n" + table("article (year, outlet)", articles))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.data", description=__doc__.splitlines()[0])
    parser.add_argument("--labels", default=str(LABELS), help="label file (default: labels/sentences.jsonl)")
    parser.add_argument("--check", action="store_true",
                        help="validate the labels against the corpus; exit 1 listing every problem")
    parser.add_argument("--counts", action="store_true",
                        help="print label counts per year and per article as Markdown (labels/counts.md)")
    args = parser.parse_args(argv)
    if args.counts:
        print(counts_markdown(read_jsonl(args.labels)), end="")
        return 0
    if not args.check:
        parser.print_help()
        print("\nIn Python: load_dataset() (a datasets.Dataset), load_records(), check_records(), read_jsonl().")
        return 0
    records = read_jsonl(args.labels)
    non_units = read_non_units(args.labels)
    problems = check_records(records, non_units=non_units)
    if problems:
        print(f"{args.labels}: {len(problems)} problem(s)", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    counts = {t: sum(t in r["topics"] for r in records) for t in TOPICS}
    stances = {s: sum(r["stance"] == s for r in records) for s in STANCES}
    print(f"{args.labels}: {len(records)} records in {len({r['doc_id'] for r in records})} articles, all valid "
          f"({len(non_units)} non-units listed beside them)")
    print(f"  topics: {counts}\n  stances: {stances}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
