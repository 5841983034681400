"""Shared fixtures: a tiny model trained for real on about 40 hand-written sentences."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def tiny_dataset():
    from training.data import read_jsonl, to_dataset

    return to_dataset(read_jsonl(FIXTURES / "tiny_labels.jsonl"))


@pytest.fixture(scope="session")
def tiny_model(tiny_dataset):
    from model.classifier import EntenteClassifier

    ds = tiny_dataset
    return EntenteClassifier(threshold_folds=3, seed=0).fit(
        ds["text"], np.array(ds["topics"]), np.array(ds["stance"]), groups=ds["doc_id"]
    )


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "tiny"
    tiny_model.save_pretrained(path, metrics={"note": "tiny test model"}, model_card="# tiny\n")
    return path


@pytest.fixture
def ckpt(tiny_checkpoint, tmp_path):
    """A copy of the tiny checkpoint that a test may break."""
    import shutil

    return shutil.copytree(tiny_checkpoint, tmp_path / "ckpt")


def edit_config(path, change):
    """Apply ``change`` to a checkpoint's config.json in place."""
    import json

    config = json.loads((path / "config.json").read_text())
    change(config)
    (path / "config.json").write_text(json.dumps(config))
