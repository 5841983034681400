"""Learning curve: how a model's figures grow with the share of training articles.

    python -m training.learning_curve --models minilm_frozen_logreg tfidf_logreg
    python -m training.learning_curve --models minilm_finetune --params '{"epochs": 5, "threshold_folds": 0}'

For each protocol (grouped 5-fold cross-validation and the time split of
``training.evaluate``) and each fraction (25, 50, 100% by default), every training fold
keeps that share of its articles (whole articles, drawn with a fixed seed, the same
draw for every model), the model is trained on them and scored on the full test fold.
Writes ``docs/learning_curve.json``, a Markdown table with the gain per doubling of
labels, and ``docs/learning_curve.png`` (matplotlib, an optional extra). Every point is
scored as ``training.evaluate`` scores the full model (the same calibration rule).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from pathlib import Path

import numpy as np

from model.checkpoint import atomic_write_text
from training import reports_progress
from training.data import LABELS, ROOT, load_dataset
from training.evaluate import article_folds, article_years, cross_validate, resume_path, time_split, train_indices
from training.registry import MODEL_NAMES

FRACTIONS = (0.25, 0.5, 1.0)


def subsample_articles(rows: np.ndarray, groups: list[str], fraction: float, seed: int = 0) -> np.ndarray:
    """The rows of a ``fraction`` of the articles among ``rows`` (at least one article), drawn with ``seed``."""
    articles = sorted({groups[i] for i in rows})
    keep = set(random.Random(seed).sample(articles, max(1, math.ceil(fraction * len(articles)))))
    return np.array([i for i in rows if groups[i] in keep])


def curve(name: str, texts, Y, s, groups, folds, fractions=FRACTIONS, params: dict | None = None,
          seed: int = 0, log=print, resume_dir=None) -> list[dict]:
    """Figures of model ``name`` trained on each fraction of every fold's training articles.

    Each point is ``training.evaluate.cross_validate`` on the same folds, scored the same
    way, with each fold's training rows cut to the fraction's articles.
    ``resume_dir(fraction)``: the folder that keeps a point's finished folds (``--resume``);
    the 100% point shares ``training.evaluate --resume``'s folder, so a model already
    evaluated is not trained again.
    """
    points = []
    for fraction in fractions:
        def keep_share(rows: np.ndarray, fold: int, fraction=fraction) -> np.ndarray:
            return subsample_articles(rows, groups, fraction, seed=seed + fold)

        result = cross_validate(name, texts, Y, s, groups, folds, params=params, log=log,
                                select_train=None if fraction == 1 else keep_share,
                                resume_dir=resume_dir(fraction) if resume_dir else None)[0]
        n_train = [len(keep_share(train_indices(texts, test), fold)) for fold, test in enumerate(folds, 1)]
        points.append({"fraction": fraction, "train_sentences_mean": round(float(np.mean(n_train)), 1),
                       "topic_macro_f1": result["topics"]["macro_f1"], "stance_macro_f1": result["stance"]["macro_f1"],
                       "seconds": result["seconds"]})
        log(f"  {name} at {fraction:.0%}: topic {points[-1]['topic_macro_f1']:.3f}, "
            f"stance {points[-1]['stance_macro_f1']:.3f}")
    return points


def gains_per_doubling(points: list[dict], key: str) -> list[float]:
    """The change in ``key`` from each fraction to the next (each a doubling at 25/50/100%)."""
    return [round(b[key] - a[key], 3) for a, b in zip(points, points[1:])]


def markdown(report: dict) -> str:
    """The learning-curve table: figures per fraction and the gain per doubling."""
    lines = ["| model | protocol | " + " | ".join(f"{p:.0%} topic / stance" for p in report["fractions"])
             + " | stance gain per doubling |", "|---|---|" + "---|" * (len(report["fractions"]) + 1)]
    for run in report["runs"]:
        cells = [f"{p['topic_macro_f1']:.3f} / {p['stance_macro_f1']:.3f}" for p in run["points"]]
        gains = ", ".join(f"{g:+.3f}" for g in gains_per_doubling(run["points"], "stance_macro_f1"))
        lines.append(f"| {run['model']} | {run['protocol']} | " + " | ".join(cells) + f" | {gains} |")
    return "\n".join(lines) + "\n"


def plot(report: dict, path: Path) -> None:
    """Stance and topic macro-F1 against the share of training articles, one line per model and protocol."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharex=True)
    for run in report["runs"]:
        x = [p["fraction"] * 100 for p in run["points"]]
        style = "-" if run["protocol"] == "cv" else "--"
        for ax, key in zip(axes, ("stance_macro_f1", "topic_macro_f1")):
            ax.plot(x, [p[key] for p in run["points"]], style, marker="o", label=f"{run['model']} ({run['protocol']})")
    for ax, title in zip(axes, ("stance macro-F1", "topic macro-F1")):
        ax.set_xscale("log", base=2)
        ax.set_xticks([p * 100 for p in report["fractions"]], [f"{p:.0%}" for p in report["fractions"]])
        ax.set_xlabel("share of training articles")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


@reports_progress
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.learning_curve", description=__doc__.splitlines()[0])
    parser.add_argument("--labels", default=str(LABELS))
    parser.add_argument("--models", nargs="+", default=["minilm_frozen_logreg"], choices=list(MODEL_NAMES))
    parser.add_argument("--protocols", nargs="+", default=["cv", "time"], choices=["cv", "time"])
    parser.add_argument("--fractions", type=float, nargs="+", default=list(FRACTIONS))
    parser.add_argument("--params", type=json.loads, default={})
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "learning_curve.json")
    parser.add_argument("--merge", action="store_true", help="keep the runs in --output of other models or protocols")
    parser.add_argument("--resume", action="store_true",
                        help="keep each point's finished folds under runs/cv/ and reuse them on a rerun (the 100%% "
                             "point reuses training.evaluate --resume's folds)")
    args = parser.parse_args(argv)

    ds = load_dataset(args.labels)
    texts, groups = ds["text"], ds["doc_id"]
    Y, s = np.array(ds["topics"]), np.array(ds["stance"])
    earlier = json.loads(args.output.read_text()) if args.merge and args.output.exists() else {"runs": []}
    runs = [r for r in earlier["runs"] if r["model"] not in args.models or r["protocol"] not in args.protocols]
    for protocol in args.protocols:
        folds = [time_split(groups, article_years())] if protocol == "time" else article_folds(groups)
        for name in args.models:
            print(f"{name} ({protocol}) ...", file=sys.stderr)
            base = resume_path(protocol, name, args.params, ds["id"], Y, s, folds)

            def resume_dir(fraction: float, base=base) -> Path:
                return base if fraction == 1 else base.with_name(f"{base.name}-share{fraction:g}")

            points = curve(name, texts, Y, s, groups, folds, args.fractions, args.params,
                           log=lambda message: print(message, file=sys.stderr),
                           resume_dir=resume_dir if args.resume else None)
            runs.append({"model": name, "protocol": protocol, "params": args.params, "points": points})
    report = {"fractions": args.fractions, "runs": runs,
              "protocol": "share of each training fold's articles (fixed seed per fold); figures on the full test "
                          "fold; cv: the 5 grouped folds of training.evaluate; time: train to 2023, test 2024-2026"}
    atomic_write_text(args.output, json.dumps(report, indent=2) + "\n")
    table = markdown(report)
    atomic_write_text(args.output.with_suffix(".md"), table)
    print(table)
    try:
        plot(report, args.output.with_suffix(".png"))
    except ImportError:
        print("matplotlib is not installed: no figure (pip install matplotlib)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
