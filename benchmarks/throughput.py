"""Scoring throughput, cold start and int8 agreement, measured in one run on this machine.

    python benchmarks/throughput.py [--checkpoint DIR] [--output JSON] [--n 2000]

Rows (sentences per second, on ``--n`` corpus sentences cycled from the splitter's output
over ``corpus/articles``):

* ``raw_encoder``: the float32 transformer forward pass alone on already tokenised,
  length-sorted batches: the reference limit for this model. Every ratio is against it,
  measured in the same run (absolute figures drift on a shared machine; ratios hold);
* ``predict``: the public ``predict`` at its default batch size, all costs included;
* ``transformers_reference``: the same weights run by ``transformers.BertModel`` on the
  same batches (if transformers is installed), to show the raw encoder is not slow;
* ``predict_per_sentence``: the obvious way, one ``predict`` call per sentence;
* ``setfit_predict``: the ``setfit`` package's ``predict`` on the same encoder (if installed);
* ``onnx_raw_encoder`` and ``predict_onnx``: the int8 ONNX Runtime backend. A checkpoint
  without an export is exported into a temporary copy first; the checkpoint is not written.

Throughput rows are timed ``--repeats`` times, interleaved: a rate is the median run, a
ratio the median of the ratios within each repeat.
Cold start: wall time and peak memory of ``entente score`` on one sample article, from
process start to output written (median of ``--cold-repeats`` runs). Agreement: the share
of the distinct corpus sentences benchmarked (all of them when ``--n`` covers the corpus)
whose topics and stance are the same from int8 and float32.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from model.checkpoint import CONFIG_NAME, default_checkpoint, read_onnx_record  # noqa: E402
from model.encoder import available_cores, set_threads, tokenize_sorted  # noqa: E402
from model.onnx_export import corpus_sentences  # noqa: E402  (needs no onnx package)
from model.predict import DEFAULT_BATCH_SIZE, load_encoder, load_model, predict  # noqa: E402

SAMPLE_ARTICLE = ROOT / "examples" / "sample_article.txt"
TARGETS = {
    "predict_ratio_min": 0.9,
    "cold_start_s_max": 3.0,
    "cold_start_peak_mb_max": 1024.0,
    "onnx_ratio_min": 1.5,
    "onnx_agreement_min": 0.99,
}


def shown(path: str | Path) -> str:
    """A path as the results record it, with no machine's absolute path: relative to the
    repository, else a placeholder for a temporary copy, else the folder's name."""
    resolved = Path(path).resolve()
    if resolved.is_relative_to(ROOT):
        return resolved.relative_to(ROOT).as_posix()
    if resolved.is_relative_to(Path(tempfile.gettempdir()).resolve()):
        return "TEMPORARY_COPY"
    return resolved.name


def cycled(items: list[str], n: int) -> list[str]:
    return list(itertools.islice(itertools.cycle(items), n))


# -- timing --------------------------------------------------------------------------


def timed_rows(runs: dict[str, Callable[[], None]], n: int, repeats: int, reference: str) -> dict[str, dict]:
    """Time each callable ``repeats`` times, interleaved so that drift hits all alike.

    A row's rate is its median run; its ratio is the median, over repeats, of its speed
    against the ``reference`` run of the same repeat (timed seconds apart, so the load
    from other work on a shared machine cancels out).
    """
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return {
        name: rate(n, statistics.median(ts), best_s=round(min(ts), 4), runs_s=[round(t, 3) for t in ts],
                   ratio_to_raw_encoder=round(statistics.median(r / t for r, t in zip(times[reference], ts)), 3))
        for name, ts in times.items()
    }


def rate(n: int, seconds: float, **extra) -> dict:
    return {"n": n, "seconds": round(seconds, 4), "sentences_per_s": round(n / seconds, 2), **extra}


def raw_torch_encoder(model, batches) -> Callable[[], None]:
    """The float32 transformer alone on prepared batches: no tokenising, pooling or heads."""
    import torch

    body = model.encoder_.body.eval()

    def run() -> None:
        set_threads()
        with torch.inference_mode():
            for _, b in batches:
                body(**b)

    return run


def transformers_reference(batches) -> Callable[[], None] | None:
    """``transformers.BertModel`` with the bundled weights on the same batches, if installed."""
    try:
        import torch
        from transformers import AutoModel
        from transformers.utils import logging as hf_logging
    except ImportError:
        return None
    from model.encoder import encoder_path

    hf_logging.disable_progress_bar()
    hf = AutoModel.from_pretrained(str(encoder_path())).eval()

    def run() -> None:
        with torch.inference_mode():
            for _, b in batches:
                hf(**b)

    return run


def raw_onnx_encoder(encoder, batches) -> Callable[[], None]:
    """The int8 graph alone (transformer and pooling) on the same prepared batches."""
    arrays = [(b["input_ids"].numpy(), b["attention_mask"].numpy()) for _, b in batches]

    def run() -> None:
        for ids, mask in arrays:
            encoder.run(ids, mask)

    return run


def per_sentence(texts: list[str], checkpoint: Path) -> dict:
    t = time.perf_counter()
    for text in texts:
        predict(text, checkpoint=checkpoint)
    return rate(len(texts), time.perf_counter() - t)


def setfit_rate(texts: list[str], batch_size: int) -> dict:
    """The ``setfit`` package's ``predict`` on the same MiniLM body (its head fitted on a few
    embeddings: only speed is measured here)."""
    try:
        from setfit import SetFitModel
    except ImportError:
        return {"skipped": "setfit is not installed"}
    from model.encoder import encoder_path

    logging.getLogger("setfit").setLevel(logging.ERROR)  # "head not trained": it is fitted below
    sf = SetFitModel.from_pretrained(str(encoder_path()))
    head_data = texts[:6]
    sf.model_head.fit(sf.model_body.encode(head_data), [0, 1, 2, 0, 1, 2])
    sf.predict(texts[:batch_size], batch_size=batch_size)  # warm-up
    t = time.perf_counter()
    sf.predict(texts, batch_size=batch_size)
    return rate(len(texts), time.perf_counter() - t, batch_size=batch_size)


# -- cold start ----------------------------------------------------------------------


def entente_command() -> list[str]:
    script = Path(sys.executable).with_name("entente")
    return [str(script)] if script.exists() else [sys.executable, "-m", "model.cli"]


# Runs one command and reports its wall time and peak RSS. It is a process of its own because
# Linux starts a forked child's peak RSS at its parent's: measured straight from this (large)
# process, every command would seem to peak at this process's size.
_TIMER = """
import json, os, subprocess, sys, time
t = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
err = proc.stderr.read().decode(errors="replace")
_, status, usage = os.wait4(proc.pid, 0)
proc.returncode = os.waitstatus_to_exitcode(status)
print(json.dumps({"wall_s": time.perf_counter() - t, "peak_rss_mb": usage.ru_maxrss / 1024,
                  "returncode": proc.returncode, "stderr": err[-500:]}))
"""


def timed_run(cmd: list[str]) -> dict:
    """Wall time (process start to exit) and peak RSS in MiB of ``cmd``, run from the repo root."""
    out = subprocess.run([sys.executable, "-c", _TIMER, *cmd], cwd=ROOT, capture_output=True, text=True, check=True)
    run = json.loads(out.stdout)
    if run["returncode"] != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {run['stderr']}")
    return run


def cold_start(checkpoint: Path, backend: str, repeats: int) -> dict:
    """Wall time and peak RSS of ``entente score`` on the sample article, in fresh processes."""
    with tempfile.TemporaryDirectory(prefix="entente-bench-") as tmp:
        out = Path(tmp) / "sample.jsonl"
        args = ["score", str(SAMPLE_ARTICLE.relative_to(ROOT)), "-o", str(out), "-q",
                "--checkpoint", str(checkpoint), "--backend", backend]
        runs = [timed_run(entente_command() + args) for _ in range(repeats)]
    walls = [r["wall_s"] for r in runs]
    command = " ".join(["entente"] + args).replace(str(out), "OUT.jsonl").replace(str(checkpoint), shown(checkpoint))
    return {"backend": backend, "command": command,
            "wall_s": round(statistics.median(walls), 3), "wall_s_runs": [round(w, 3) for w in walls],
            "peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs), 1)}


# -- ONNX ----------------------------------------------------------------------------


def onnx_checkpoint(checkpoint: Path, workdir: Path, keep_float32: list[str] | None) -> tuple[Path | None, str]:
    """A checkpoint with an int8 encoder: the given one's own export, or a temporary copy
    exported by this run (always, when ``keep_float32`` is given)."""
    try:
        import onnxruntime  # noqa: F401

        from model.onnx_export import export_onnx
        from model.onnx_runtime import onnx_path
    except ImportError:
        return None, "onnxruntime is not installed (pip install 'entente[onnx]')"
    if keep_float32 is None and onnx_path(checkpoint).is_file():
        return checkpoint, "exported in the checkpoint"
    copy = workdir / "checkpoint"
    shutil.copytree(checkpoint, copy)
    export_onnx(copy, keep_float32=keep_float32)
    return copy, "exported by this run into a temporary copy of the checkpoint"


def int8_agreement(texts: list[str], checkpoint: Path, onnx_ckpt: Path, batch_size: int) -> dict:
    """How often int8 gives the same decisions as float32, and how close its embeddings are."""
    from model.onnx_export import agreement

    x32 = load_encoder(checkpoint, "torch").embed(texts, batch_size)
    x8 = load_encoder(onnx_ckpt, "onnx").embed(texts, batch_size)
    return agreement(load_model(checkpoint), texts, x32, x8)


# -- the run -------------------------------------------------------------------------


def machine() -> dict:
    """What the figures were measured on (they hold for this machine only)."""
    import numpy
    import torch

    info = {"cores_available": available_cores(), "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__,
            "cpu": _cpu_name(), "load_average_1min": round(os.getloadavg()[0], 2)}
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    return info


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def measure(args: argparse.Namespace) -> dict:
    """Every row, the int8 agreement and the cold starts, as one JSON-ready dict."""
    checkpoint = Path(args.checkpoint)
    unique = corpus_sentences()
    texts = cycled(unique, args.n)
    model = load_model(checkpoint)
    set_threads()
    batches = list(tokenize_sorted(model.tokenizer_, texts, args.batch_size))
    predict(texts[: args.batch_size], checkpoint=checkpoint)  # warm-up
    runs = {
        "raw_encoder": raw_torch_encoder(model, batches),
        "predict": lambda: predict(texts, checkpoint=checkpoint, batch_size=args.batch_size),
    }
    result: dict = {"checkpoint": shown(checkpoint), "n": len(texts), "unique_sentences": len(unique),
                    "batch_size": args.batch_size, "repeats": args.repeats, "targets": TARGETS}
    with tempfile.TemporaryDirectory(prefix="entente-bench-") as tmp:
        onnx_ckpt, onnx_note = onnx_checkpoint(checkpoint, Path(tmp), args.onnx_keep_float32)
        result["onnx"] = {"checkpoint": shown(onnx_ckpt) if onnx_ckpt else None, "note": onnx_note}
        if onnx_ckpt is not None:
            result["onnx"]["quantization"] = read_onnx_record(onnx_ckpt)["quantization"]
            encoder = load_encoder(onnx_ckpt, "onnx")
            predict(texts[: args.batch_size], checkpoint=onnx_ckpt, backend="onnx")  # warm-up
            runs["onnx_raw_encoder"] = raw_onnx_encoder(encoder, batches)
            runs["predict_onnx"] = lambda: predict(texts, checkpoint=onnx_ckpt, batch_size=args.batch_size,
                                                   backend="onnx")
        if not args.no_reference:
            ref = transformers_reference(batches)
            if ref is not None:
                runs["transformers_reference"] = ref
        rows = timed_rows(runs, len(texts), args.repeats, reference="raw_encoder")
        rows["predict_per_sentence"] = per_sentence(texts[: args.peer_n], checkpoint)
        rows["setfit_predict"] = {"skipped": "--no-setfit"} if args.no_setfit else setfit_rate(texts, args.batch_size)
        if onnx_ckpt is not None:
            distinct = unique[: len(texts)]  # every corpus sentence once, when --n covers the corpus
            result["onnx_agreement"] = int8_agreement(distinct, checkpoint, onnx_ckpt, args.batch_size)
        result["cold_start"] = [] if args.cold_repeats == 0 else [
            cold_start(c, b, args.cold_repeats) for c, b in ((checkpoint, "torch"), (onnx_ckpt, "onnx")) if c
        ]
    raw = rows["raw_encoder"]["sentences_per_s"]
    for row in rows.values():  # rows timed once, after the interleaved ones: against the median
        if "sentences_per_s" in row and "ratio_to_raw_encoder" not in row:
            row["ratio_to_raw_encoder"] = round(row["sentences_per_s"] / raw, 3)
    result["throughput"] = rows
    result["checks"] = checks(result)
    return result


def checks(result: dict) -> dict:
    """Each target of the performance issue: met (True), missed (False) or not measured (None)."""
    rows, t = result["throughput"], TARGETS
    onnx_row = rows.get("onnx_raw_encoder", {})
    cold = next((c for c in result["cold_start"] if c["backend"] == "torch"), None)
    agree = result.get("onnx_agreement", {})
    return {
        "predict_ratio": rows["predict"]["ratio_to_raw_encoder"] >= t["predict_ratio_min"],
        "cold_start_time": None if cold is None else cold["wall_s"] <= t["cold_start_s_max"],
        "cold_start_memory": None if cold is None else cold["peak_rss_mb"] <= t["cold_start_peak_mb_max"],
        "onnx_speedup": None if "predict_onnx" not in rows else
        rows["predict_onnx"]["ratio_to_raw_encoder"] >= t["onnx_ratio_min"],
        "onnx_agreement": None if not agree else agree["same_topics_and_stance"] >= t["onnx_agreement_min"],
        "onnx_raw_speedup": None if not onnx_row else onnx_row["ratio_to_raw_encoder"] >= t["onnx_ratio_min"],
    }


LABELS = {
    "raw_encoder": "raw encoder forward, float32 torch (reference)",
    "predict": "predict(), torch float32",
    "transformers_reference": "transformers BertModel forward, same batches",
    "predict_per_sentence": "peer: one predict() call per sentence",
    "setfit_predict": "peer: setfit SetFitModel.predict",
    "onnx_raw_encoder": "raw encoder forward, ONNX int8",
    "predict_onnx": "predict(backend='onnx'), int8",
}


def table(result: dict) -> str:
    """The result as a plain-text table (Markdown-compatible)."""
    lines = ["| measure | sentences/s | ratio to raw encoder |", "| --- | ---: | ---: |"]
    for key, label in LABELS.items():
        row = result["throughput"].get(key)
        if row is None:
            continue
        if "skipped" in row:
            lines.append(f"| {label} | skipped: {row['skipped']} | |")
        else:
            lines.append(f"| {label} (n={row['n']}) | {row['sentences_per_s']:.1f} | {row['ratio_to_raw_encoder']:.2f} |")
    lines += ["", "| cold start (`entente score` on one article) | wall s | peak RSS MB |", "| --- | ---: | ---: |"]
    for c in result["cold_start"]:
        lines.append(f"| backend {c['backend']} | {c['wall_s']:.2f} | {c['peak_rss_mb']:.0f} |")
    agree = result.get("onnx_agreement")
    if agree:
        lines += ["", f"int8 vs float32 on {agree['n']} unique corpus sentences: same topics and stance "
                  f"{agree['same_topics_and_stance']:.2%} (topics {agree['same_topics']:.2%}, stance "
                  f"{agree['same_stance']:.2%}); embedding cosine mean {agree['embedding_cosine_mean']:.4f}, "
                  f"min {agree['embedding_cosine_min']:.4f}"]
    lines += ["", "targets: " + ", ".join(f"{k} {_mark(v)}" for k, v in result["checks"].items())]
    return "\n".join(lines)


def _mark(v: bool | None) -> str:
    return "not measured" if v is None else ("met" if v else "MISSED")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default=str(default_checkpoint() or ROOT / "checkpoints" / "default"),
                   help="checkpoint folder (default: checkpoints/default)")
    p.add_argument("--output", default=str(ROOT / "benchmarks" / "results.json"), help="JSON result file")
    p.add_argument("--n", type=int, default=2000, help="corpus sentences, cycled (default: 2000)")
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="predict's batch size (default: its default)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per row, interleaved; medians kept (default: 3)")
    p.add_argument("--peer-n", type=int, default=300, help="sentences for the one-call-per-sentence peer (default: 300)")
    p.add_argument("--cold-repeats", type=int, default=3, help="cold-start runs per backend, 0 to skip (default: 3)")
    p.add_argument("--no-setfit", action="store_true", help="skip the setfit peer")
    p.add_argument("--no-reference", action="store_true", help="skip the transformers BertModel row")
    p.add_argument("--onnx-keep-float32", nargs="*", metavar="KIND",
                   help="export a temporary copy with these weight kinds left in float32 (none: all int8), "
                        "to compare settings; without it the checkpoint's own export is used (else a default one)")
    p.add_argument("--cores", type=int, help="pin this run (and its cold starts) to this many cores "
                   "(default: all available); 1 gives steadier ratios on a machine busy with other work")
    args = p.parse_args(argv)
    if min(args.n, args.batch_size, args.repeats, args.peer_n, args.cores or 1) < 1 or args.cold_repeats < 0:
        p.error("--n, --batch-size, --repeats, --peer-n and --cores must be at least 1, --cold-repeats at least 0")
    args.peer_n = min(args.peer_n, args.n)
    return args


def pin_cores(n: int) -> None:
    """Restrict this process (and what it starts) to ``n`` of its cores: torch and ONNX Runtime
    then size their thread pools to ``n``, as they read the affinity mask."""
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:n])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.cores:
        pin_cores(args.cores)
    if not (Path(args.checkpoint) / CONFIG_NAME).is_file():
        print(f"throughput: no checkpoint at {args.checkpoint} (train one, or pass --checkpoint)", file=sys.stderr)
        return 2
    measured = measure(args)
    result = {"machine": machine(), **measured}  # after measuring: thread counts as they were used
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(f"\nJSON: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
