"""model.checkpoint: the schema is checked on load, every problem is one line naming the file."""

import json

import pytest

from model import checkpoint
from model.checkpoint import CheckpointError
from model.classifier import EntenteClassifier
from model.cli import main
from tests.conftest import edit_config


def one_line_error(path, file_name, words):
    with pytest.raises(CheckpointError) as e:
        EntenteClassifier.from_pretrained(path)
    message = str(e.value)
    assert str(path / file_name) in message and words in message and "\n" not in message
    return message


def test_written_checkpoints_carry_the_schema_version_and_no_temporary_files(tiny_checkpoint):
    assert json.loads((tiny_checkpoint / "config.json").read_text())["schema_version"] == checkpoint.SCHEMA_VERSION
    assert not [p for p in tiny_checkpoint.iterdir() if p.name.startswith(".")]


def test_missing_key_and_wrong_type(ckpt):
    edit_config(ckpt, lambda c: c.pop("thresholds"))
    one_line_error(ckpt, "config.json", "missing key 'thresholds'")
    edit_config(ckpt, lambda c: c.update(thresholds={"security": "high"}))
    one_line_error(ckpt, "config.json", "'thresholds'.security must be a number, not str")
    edit_config(ckpt, lambda c: c.update(thresholds={t: 0.5 for t in c["topics"]}, stance_temperature="1"))
    one_line_error(ckpt, "config.json", "'stance_temperature' must be a number")


def test_invalid_json_and_a_newer_schema(ckpt):
    (ckpt / "config.json").write_text('{"model_type": "entente",')
    one_line_error(ckpt, "config.json", "not valid JSON")
    (ckpt / "config.json").write_text(json.dumps({"model_type": "entente", "schema_version": 99}))
    one_line_error(ckpt, "config.json", "schema_version 99 is newer")


def test_a_config_from_before_the_schema_version_loads_as_version_1(ckpt):
    edit_config(ckpt, lambda c: c.pop("schema_version"))
    assert checkpoint.read_config(ckpt)["schema_version"] == 1


def test_truncated_and_wrong_shaped_weights(ckpt, tmp_path):
    data = (ckpt / "model.safetensors").read_bytes()
    (ckpt / "model.safetensors").write_bytes(data[: len(data) // 2])
    one_line_error(ckpt, "model.safetensors", "not a valid safetensors file")
    import torch
    from safetensors.torch import save_file

    save_file({"topic.weight": torch.zeros(4, 10), "topic.bias": torch.zeros(4),
               "stance.weight": torch.zeros(3, 384), "stance.bias": torch.zeros(3)}, str(ckpt / "model.safetensors"))
    one_line_error(ckpt, "model.safetensors", "'topic.weight' has shape [4, 10], expected [4, 384]")
    edit_config(ckpt, lambda c: c["encoder"].update(fine_tuned=True))
    one_line_error(ckpt, "encoder.safetensors", "missing")


def test_the_command_line_turns_a_bad_checkpoint_into_one_line_and_exit_2(ckpt, tmp_path, capsys):
    edit_config(ckpt, lambda c: c.pop("topic_calibration"))
    article = tmp_path / "a.txt"
    article.write_text("Russia and China signed a gas deal.\n")
    assert main(["score", str(article), "--checkpoint", str(ckpt)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "config.json: missing key 'topic_calibration'" in err


def test_the_default_checkpoint_comes_from_the_environment_then_the_checkout(monkeypatch, tiny_checkpoint, tmp_path):
    monkeypatch.setenv(checkpoint.ENV_VAR, str(tiny_checkpoint))
    assert checkpoint.resolve() == tiny_checkpoint
    monkeypatch.delenv(checkpoint.ENV_VAR)
    assert checkpoint.resolve(tmp_path) == tmp_path  # an explicit one wins
    monkeypatch.setattr(checkpoint, "CHECKOUT_DEFAULT", tmp_path / "none")
    monkeypatch.setattr(checkpoint, "_installed_default", lambda: None)
    with pytest.raises(FileNotFoundError) as e:
        checkpoint.resolve()
    assert "--checkpoint" in str(e.value) and checkpoint.ENV_VAR in str(e.value)


def test_package_version_comes_from_the_installed_metadata():
    from importlib.metadata import version

    import model

    assert model.__version__ == checkpoint.package_version() == version("entente")
