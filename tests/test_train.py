"""``python -m training.train``: a TOML config in, a checkpoint out, the same predictions every time."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from tests.conftest import FIXTURES
from training.train import TrainConfig, main

SENTENCES = ["Gazprom will pump more gas to China.", "Taipei condemned the drills near the island."]


def _config(tmp_path, **extra) -> str:
    lines = [
        'model = "minilm_frozen_logreg"',
        f'labels = "{FIXTURES / "tiny_labels.jsonl"}"',
        "seed = 0",
        "check_labels = false",
        *extra.get("top", []),
        "[params]",
        "C = 4.0",
        "threshold_folds = 3",
    ]
    path = tmp_path / "tiny.toml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_training_from_a_config_writes_a_checkpoint_and_is_deterministic(tmp_path):
    from model.classifier import EntenteClassifier

    cfg = _config(tmp_path)
    out = []
    for run in ("a", "b"):
        assert main(["--config", cfg, "--output", str(tmp_path / run), "--cv-report", str(tmp_path / "none")]) == 0
        out.append(EntenteClassifier.from_pretrained(tmp_path / run).predict_proba(SENTENCES))
        files = {p.name for p in (tmp_path / run).iterdir()}
        assert {"config.json", "model.safetensors", "metrics.json", "model_card.md"} <= files
    for x, y in zip(out[0], out[1]):
        assert (x == y).all()
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["n_train"] == 40 and len(config["training_data_hash"]) == 16


def test_a_bad_config_is_a_usage_error(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('model = "no_such_model"\n')
    assert main(["--config", str(bad), "--output", str(tmp_path / "x")]) == 2
    assert "model must be one of" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown key"):
        bad.write_text('modle = "minilm_finetune"\n')
        TrainConfig.from_toml(bad)


def test_labels_that_fail_the_check_stop_training(tmp_path, capsys):
    cfg = open(_config(tmp_path)).read().replace("check_labels = false", "check_labels = true")
    path = tmp_path / "checked.toml"
    path.write_text(cfg)  # the fixture's articles are not in corpus/: the check must refuse them
    assert main(["--config", str(path), "--output", str(tmp_path / "x")]) == 2
    assert "unknown article" in capsys.readouterr().err


def _oof_config(tmp_path):
    """Out-of-fold predictions of a frozen model on the fixture, and a config that points at them."""
    from training import evaluate

    oof = tmp_path / "oof.jsonl"
    assert evaluate.main(["--labels", str(FIXTURES / "tiny_labels.jsonl"), "--no-check", "--models",
                          "minilm_frozen_logreg", "--folds", "3", "--params", '{"threshold_folds": 0}',
                          "--output", str(tmp_path / "cv.json"), "--predictions", str(oof)]) == 0
    text = open(_config(tmp_path)).read().replace("threshold_folds = 3", "threshold_folds = 0")
    cfg = tmp_path / "oof.toml"
    cfg.write_text(text.replace("check_labels = false", f'check_labels = false\noof = "{oof}"'))
    return oof, cfg


def test_thresholds_and_temperature_can_come_from_out_of_fold_predictions(tmp_path):
    oof, cfg = _oof_config(tmp_path)
    assert main(["--config", str(cfg), "--output", str(tmp_path / "m"), "--cv-report", str(tmp_path / "none")]) == 0
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["calibration"]["source"] == "out-of-fold: oof.jsonl"
    # thresholds are the grid's F1-best on those predictions as calibrated by the saved
    # logit and cue weights, not the untuned 0.5 everywhere
    from model.calibration import best_thresholds
    from model.cues import topic_cues
    from training.data import read_jsonl

    rows = [json.loads(line) for line in oof.read_text().splitlines()]
    labels = {r["id"]: r for r in read_jsonl(FIXTURES / "tiny_labels.jsonl")}
    topics = ("security", "energy", "taiwan", "ukraine")
    Y = np.array([[int(t in labels[r["id"]]["topics"]) for t in topics] for r in rows])
    P = np.clip(np.array([r["minilm_frozen_logreg"]["topic_scores"] for r in rows]), 1e-6, 1 - 1e-6)
    cal = np.array([[config["topic_calibration"][t][k] for k in ("logit", "cue", "bias")] for t in topics])
    z = cal[:, 0] * np.log(P / (1 - P)) + cal[:, 1] * topic_cues([r["text"] for r in rows]) + cal[:, 2]
    assert not np.allclose(cal, [1, 0, 0])
    assert list(config["thresholds"].values()) == pytest.approx(best_thresholds(Y, 1 / (1 + np.exp(-z))).tolist())


def test_missing_out_of_fold_predictions_are_a_clear_error(tmp_path, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    cfg = tmp_path / "oof.toml"
    cfg.write_text(open(_config(tmp_path)).read().replace("check_labels = false", f'check_labels = false\noof = "{empty}"'))
    assert main(["--config", str(cfg), "--output", str(tmp_path / "m"), "--cv-report", str(tmp_path / "none")]) == 2
    assert "no out-of-fold prediction" in capsys.readouterr().err


def test_calibrate_only_updates_a_saved_checkpoint_without_retraining(tmp_path):
    from model.classifier import EntenteClassifier
    oof, cfg = _oof_config(tmp_path)
    out = tmp_path / "m"
    common = ["--config", str(cfg), "--output", str(out), "--cv-report", str(tmp_path / "none")]
    assert main(common + ["--no-oof"]) == 0
    before = EntenteClassifier.from_pretrained(out)
    assert before.thresholds_.tolist() == [0.5] * 4 and before.temperature_ == 1.0
    assert main(common + ["--calibrate-only"]) == 0
    after = EntenteClassifier.from_pretrained(out)
    assert after.calibration_["source"] == "out-of-fold: oof.jsonl"
    # the heads are untouched: the same logits, only the decisions and the temperature moved
    for x, y in zip(before.decision_function(SENTENCES), after.decision_function(SENTENCES)):
        assert np.allclose(x, y)
    card = (out / "model_card.md").read_text()
    assert "out-of-fold: oof.jsonl" in card and card.count("- Topic thresholds") == 1


def test_the_model_card_shows_both_protocols_the_learning_curve_and_a_reliability_diagram(tmp_path, capsys):
    oof, cfg = _oof_config(tmp_path)  # writes cv.json with the frozen model's figures
    time_report = tmp_path / "time.json"
    time_report.write_text(json.dumps({"models": {"minilm_frozen_logreg": {
        "topics": {"macro_f1": 0.5}, "stance": {"macro_f1": 0.25}}, "tfidf_logreg": {
        "topics": {"macro_f1": 0.4}, "stance": {"macro_f1": 0.2}}}}))
    curve = tmp_path / "curve.json"
    curve.write_text(json.dumps({"fractions": [0.5, 1.0], "runs": [{"model": "minilm_frozen_logreg", "protocol": "cv",
                     "points": [{"topic_macro_f1": 0.3, "stance_macro_f1": 0.2},
                                {"topic_macro_f1": 0.4, "stance_macro_f1": 0.3}]}]}))
    out = tmp_path / "m"
    assert main(["--config", str(cfg), "--output", str(out), "--cv-report", str(tmp_path / "cv.json"),
                 "--time-report", str(time_report), "--learning-curve", str(curve)]) == 0
    card = (out / "model_card.md").read_text()
    cv = json.loads((tmp_path / "cv.json").read_text())["models"]["minilm_frozen_logreg"]
    assert f"| minilm_frozen_logreg | {cv['topics']['macro_f1']:.3f} | {cv['stance']['macro_f1']:.3f} | 0.500 | 0.250 |" in card
    assert "| tfidf_logreg | not run | not run | 0.400 | 0.200 |" in card
    assert "| minilm_frozen_logreg | cv | 0.300 / 0.200 | 0.400 / 0.300 | +0.100 |" in card
    bins = [line for line in card.split("## Reliability")[1].splitlines() if line.startswith("| 0.") or line.startswith("| 1.")]
    assert sum(int(line.split("|")[2]) for line in bins) == 40  # every labelled sentence in one bin
    try:  # the figure needs matplotlib (the `docs` extra); the table is there either way
        import matplotlib  # noqa: F401
    except ImportError:
        assert not (out / "reliability.png").exists()
        assert "matplotlib is not installed: no reliability.png" in capsys.readouterr().err
    else:
        assert (out / "reliability.png").stat().st_size > 1000


def test_training_commands_show_progress_on_stderr_and_leave_logging_as_it_was(capsys):
    from training import reports_progress

    logger = logging.getLogger("model")
    level, handlers = logger.level, list(logger.handlers)

    @reports_progress
    def command() -> int:
        logging.getLogger("model.heads").info("epoch 1/3: mean loss 0.5")
        logging.getLogger("transformers").info("not ours")
        return 0

    assert command() == 0
    err = capsys.readouterr().err
    assert err.count("epoch 1/3: mean loss 0.5") == 1 and "not ours" not in err
    assert logger.level == level and logger.handlers == handlers  # nothing left behind
    logging.getLogger("model.heads").info("after the command")
    assert "after the command" not in capsys.readouterr().err


def test_training_the_distilled_default_without_its_teacher_says_how_to_get_it(tmp_path, monkeypatch, capsys):
    import training.teacher

    monkeypatch.setattr(training.teacher, "CACHE", tmp_path / "no-teacher")  # nothing cached or unpacked
    monkeypatch.setattr(training.teacher, "PARTS", ["entente-no-such-teacher-part"])
    cfg = tmp_path / "student.toml"
    cfg.write_text(f'model = "minilm_distilled"\nlabels = "{FIXTURES / "tiny_labels.jsonl"}"\ncheck_labels = false\n'
                   "[params]\nthreshold_folds = 0\n")
    assert main(["--config", str(cfg), "--output", str(tmp_path / "m"), "--cv-report", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert "make teacher" in err and not (tmp_path / "m").exists()


def test_calibrate_only_keeps_the_parameters_of_a_distilled_checkpoint(tmp_path):
    """Recalibrating loads the checkpoint as the config's model class: the student's own
    parameters (teacher_C, unlabelled_until) stay in config.json."""
    oof, cfg = _oof_config(tmp_path)
    out = tmp_path / "m"
    assert main(["--config", str(cfg), "--output", str(out), "--cv-report", str(tmp_path / "none"), "--no-oof"]) == 0
    config = json.loads((out / "config.json").read_text())
    config["params"].update(teacher_C=2.5, unlabelled_until=2020)  # as a trained student writes them
    (out / "config.json").write_text(json.dumps(config))
    student_oof = tmp_path / "student_oof.jsonl"
    student_oof.write_text(oof.read_text().replace('"minilm_frozen_logreg":', '"minilm_distilled":'))
    student_cfg = tmp_path / "student.toml"
    student_cfg.write_text(cfg.read_text().replace('"minilm_frozen_logreg"', '"minilm_distilled"')
                           .replace(str(oof), str(student_oof)))
    assert main(["--config", str(student_cfg), "--output", str(out), "--cv-report", str(tmp_path / "none"),
                 "--calibrate-only"]) == 0
    params = json.loads((out / "config.json").read_text())["params"]
    assert params["teacher_C"] == 2.5 and params["unlabelled_until"] == 2020
    assert json.loads((out / "config.json").read_text())["calibration"]["source"] == "out-of-fold: student_oof.jsonl"
