"""Archive scoring at full speed: end-to-end throughput against the raw encoder, and flat memory.

    python benchmarks/archive.py [--articles 300] [--repeats 3] [--memory-sizes 100 10000]
                                 [--memory-formats jsonl csv parquet] [--output JSON]

* **ratio**: ``entente score DIR --manifest corpus/manifest.jsonl -o OUT.jsonl --articles
  A.csv --timeline T.csv`` on ``--articles`` corpus articles, timed from process start to
  exit (model loading, reading, splitting, writing included), against the raw float32
  transformer forward pass on the same passages (the splitter's output of the same files,
  tokenised and length-sorted beforehand, batches of 64; no tokenising, pooling or
  heads). Both are timed ``--repeats`` times, interleaved, in this one run; the ratio is
  the median of per-repeat ratios (target: at least 0.8).
* **memory**: peak RSS of ``entente score`` on ``N`` articles (copies of the corpus and
  its unlabelled archive, cycled) for each N of ``--memory-sizes`` and each passage
  output format of ``--memory-formats`` (with the article table and timeline as CSV);
  the ratio of the largest N to the smallest (target: at most 1.2).

Absolute rates drift with the machine's other load: the ratios are the figures to quote.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.throughput import entente_command, machine, raw_torch_encoder, timed_run  # noqa: E402
from model.checkpoint import default_checkpoint  # noqa: E402

CORPORA = [(ROOT / "corpus" / "articles", ROOT / "corpus" / "manifest.jsonl"),
           (ROOT / "corpus" / "unlabelled" / "articles", ROOT / "corpus" / "unlabelled" / "manifest.jsonl")]
TARGETS = {"end_to_end_ratio_min": 0.8, "memory_growth_max": 1.2}


def corpus_files() -> list[Path]:
    return [f for folder, _ in CORPORA for f in sorted(folder.glob("*.txt"))]


def archive_copy(folder: Path, n: int) -> None:
    """``n`` articles in ``folder``: the corpus files, cycled, as hard links (or copies) named
    ``<id>.txt`` for the first pass and ``<id>~k.txt`` after (the manifest matches the first)."""
    files = corpus_files()
    folder.mkdir(parents=True)
    for i in range(n):
        src = files[i % len(files)]
        k = i // len(files)
        dst = folder / (src.name if k == 0 else f"{src.stem}~{k}.txt")
        try:
            os.link(src, dst)
        except OSError:
            shutil.copyfile(src, dst)


def raw_encoder(files: list[Path], checkpoint: str, batch_size: int):
    """A callable running the float32 transformer alone on the passages of ``files``, and their number."""

    from model.encoder import set_threads, tokenize_sorted
    from model.predict import load_model
    from model.text import split_sentences

    texts = [p.text for f in files for p in split_sentences(f.read_bytes().decode("utf-8-sig", errors="replace"))]
    model = load_model(checkpoint)
    set_threads()
    batches = list(tokenize_sorted(model.tokenizer_, texts, batch_size))
    return raw_torch_encoder(model, batches), len(texts)


def ratio(args, tmp: Path) -> dict:
    folder = tmp / "ratio"
    archive_copy(folder, args.articles)
    files = sorted(folder.glob("*.txt"))
    run_raw, n = raw_encoder(files, args.checkpoint, 64)
    cmd = entente_command() + ["score", str(folder), "--manifest", str(CORPORA[0][1]), "--manifest",
                               str(CORPORA[1][1]), "-o", str(tmp / "r.jsonl"), "--articles", str(tmp / "a.csv"),
                               "--timeline", str(tmp / "t.csv"), "-q", "--checkpoint", args.checkpoint]
    run_raw()  # warm-up
    raw_s, e2e_s = [], []
    for _ in range(args.repeats):
        t = time.perf_counter()
        run_raw()
        raw_s.append(time.perf_counter() - t)
        e2e_s.append(timed_run(cmd)["wall_s"])
    ratios = [r / e for r, e in zip(raw_s, e2e_s)]
    return {"articles": args.articles, "passages": n,
            "command": "entente score DIR --manifest corpus/manifest.jsonl --manifest corpus/unlabelled/manifest.jsonl "
                       "-o OUT.jsonl --articles A.csv --timeline T.csv -q",
            "raw_encoder_s": [round(x, 2) for x in raw_s], "end_to_end_s": [round(x, 2) for x in e2e_s],
            "raw_encoder_passages_per_s": round(n / statistics.median(raw_s), 1),
            "end_to_end_passages_per_s": round(n / statistics.median(e2e_s), 1),
            "ratio": round(statistics.median(ratios), 3), "ratios": [round(r, 3) for r in ratios]}


def memory(args, tmp: Path, saved=lambda rows: None) -> dict:
    """Peak RSS per archive size and output format; ``saved(rows)`` after every run, so that a
    long run stopped half-way keeps what it measured."""
    rows: dict = {}
    for n in args.memory_sizes:
        folder = tmp / f"mem{n}"
        archive_copy(folder, n)
        for fmt in args.memory_formats:
            out = tmp / f"m{n}.{fmt}"
            cmd = entente_command() + ["score", str(folder), "--manifest", str(CORPORA[0][1]), "--manifest",
                                       str(CORPORA[1][1]), "-o", str(out), "--articles", str(tmp / f"a{n}.csv"),
                                       "--timeline", str(tmp / f"t{n}.csv"), "-q", "--checkpoint", args.checkpoint]
            run = timed_run(cmd)
            rows.setdefault(fmt, {})[str(n)] = {"peak_rss_mb": round(run["peak_rss_mb"], 1),
                                                "wall_s": round(run["wall_s"], 1)}
            print(f"memory: {n} articles, {fmt}: {run['peak_rss_mb']:.0f} MB, {run['wall_s']:.0f} s", flush=True)
            saved(rows)
            out.unlink()
        shutil.rmtree(folder)
    small, large = str(min(args.memory_sizes)), str(max(args.memory_sizes))
    for by_n in rows.values():
        if small in by_n and large in by_n:
            by_n["growth"] = round(by_n[large]["peak_rss_mb"] / by_n[small]["peak_rss_mb"], 3)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default=str(default_checkpoint() or ROOT / "checkpoints" / "default"))
    p.add_argument("--articles", type=int, default=300, help="articles for the ratio (default: 300)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--memory-sizes", type=int, nargs="*", default=[100, 10000],
                   help="archive sizes for the memory runs; none: skip (default: 100 10000)")
    p.add_argument("--memory-formats", nargs="+", default=["jsonl", "csv", "parquet"])
    p.add_argument("--skip-ratio", action="store_true")
    p.add_argument("--output", default=str(ROOT / "benchmarks" / "archive.json"))
    args = p.parse_args(argv)
    result: dict = {"machine": machine(), "targets": TARGETS}

    def save(partial: bool = True) -> None:
        """Write what is measured so far (``"partial": true`` until the run ends)."""
        Path(args.output).write_text(json.dumps({**result, "partial": partial}, indent=2) + "\n")

    with tempfile.TemporaryDirectory(prefix="entente-archive-") as tmp:
        if not args.skip_ratio:
            result["ratio"] = ratio(args, Path(tmp))
            r = result["ratio"]
            print(f"end to end {r['end_to_end_passages_per_s']} passages/s, raw encoder "
                  f"{r['raw_encoder_passages_per_s']} passages/s on {r['passages']} passages of {r['articles']} "
                  f"articles: ratio {r['ratio']} (runs {r['ratios']})", flush=True)
            save()
        if args.memory_sizes:
            result["memory"] = memory(args, Path(tmp), saved=lambda rows: (result.update(memory=rows), save()))
            for fmt, by_n in result["memory"].items():
                print(f"memory {fmt}: " + ", ".join(f"{n} articles {v['peak_rss_mb']} MB" for n, v in by_n.items()
                                                      if n != "growth") + f"; growth {by_n.get('growth')}")
    result["machine"]["load_average_1min_after"] = round(os.getloadavg()[0], 2)
    save(partial=False)
    print(f"JSON: {Path(args.output).relative_to(ROOT) if Path(args.output).is_relative_to(ROOT) else args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
