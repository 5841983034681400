"""``python -m training.train``: a TOML config in, a checkpoint out, the same predictions every time."""

from __future__ import annotations

import json

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
