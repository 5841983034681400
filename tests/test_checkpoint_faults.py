"""Broken and planted checkpoints through the command line: one line naming the file, exit 2, at load time.

Each case breaks a copy of the tiny checkpoint the way a failed download, a hand edit or a
stranger's folder would, then runs ``entente score ... -o out.jsonl``: the run must stop
before scoring (no output file), with one error line that names the broken file.
"""

import json
import os
import pickle

import pytest
import torch
from safetensors.torch import save_file

from model.cli import main
from tests.conftest import edit_config


def truncate(file):
    data = file.read_bytes()
    file.write_bytes(data[: len(data) // 2])


def heads(**override):
    tensors = {"topic.weight": torch.zeros(4, 384), "topic.bias": torch.zeros(4),
               "stance.weight": torch.zeros(3, 384), "stance.bias": torch.zeros(3)}
    return {**tensors, **override}


BREAKS = {
    "truncated heads": ("model.safetensors", "not a valid safetensors file", lambda c: truncate(c / "model.safetensors")),
    "empty heads": ("model.safetensors", "not a valid safetensors file",
                    lambda c: (c / "model.safetensors").write_bytes(b"")),
    "heads of the wrong shape": ("model.safetensors", "'topic.weight' has shape [4, 10], expected [4, 384]",
                                 lambda c: save_file(heads(**{"topic.weight": torch.zeros(4, 10)}),
                                                     str(c / "model.safetensors"))),
    "NaN weights": ("model.safetensors", "'stance.bias' holds NaN or infinite values",
                    lambda c: save_file(heads(**{"stance.bias": torch.full((3,), float("nan"))}),
                                        str(c / "model.safetensors"))),
    "integer weights": ("model.safetensors", "not floating-point weights",
                        lambda c: save_file(heads(**{"topic.bias": torch.zeros(4, dtype=torch.int64)}),
                                            str(c / "model.safetensors"))),
    "heads missing": ("model.safetensors", "missing", lambda c: (c / "model.safetensors").unlink()),
    "fine-tuned encoder missing": ("encoder.safetensors", "missing",
                                   lambda c: edit_config(c, lambda k: k["encoder"].update(fine_tuned=True))),
    "invalid JSON": ("config.json", "not valid JSON", lambda c: (c / "config.json").write_text('{"model_type": ')),
    "config not UTF-8": ("config.json", "not UTF-8", lambda c: (c / "config.json").write_bytes(b'{"a": "\xff"}')),
    "config a list": ("config.json", "must hold a JSON object, not list", lambda c: (c / "config.json").write_text("[]")),
    "config a folder": ("config.json", "cannot be read",
                        lambda c: ((c / "config.json").unlink(), (c / "config.json").mkdir())),
    "missing key": ("config.json", "missing key 'stance_temperature'",
                    lambda c: edit_config(c, lambda k: k.pop("stance_temperature"))),
    "wrong type": ("config.json", "'thresholds'.energy must be a number, not str",
                   lambda c: edit_config(c, lambda k: k["thresholds"].update(energy="0.5"))),
    "NaN threshold": ("config.json", "'thresholds'.energy must be finite, not nan",
                      lambda c: edit_config(c, lambda k: k["thresholds"].update(energy=float("nan")))),
    "threshold above 1": ("config.json", "'thresholds'.energy must be a probability from 0 to 1",
                          lambda c: edit_config(c, lambda k: k["thresholds"].update(energy=7))),
    "other labels": ("config.json", "trained for labels", lambda c: edit_config(c, lambda k: k.update(topics=["x"]))),
    "newer schema": ("config.json", "schema_version 99 is newer",
                     lambda c: edit_config(c, lambda k: k.update(schema_version=99))),
}


@pytest.mark.parametrize("case", list(BREAKS))
def test_a_broken_checkpoint_is_one_line_naming_the_file_exit_2_before_scoring(case, ckpt, tmp_path, capsys):
    file_name, problem, breaks = BREAKS[case]
    breaks(ckpt)
    article = tmp_path / "a.txt"
    article.write_text("Russia and China signed a gas deal.\n")
    out = tmp_path / "out.jsonl"
    assert main(["score", str(article), "--checkpoint", str(ckpt), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("entente: error: ") and f"{ckpt / file_name}: " in err and problem in err, err
    assert not out.exists() and sorted(os.listdir(tmp_path)) == ["a.txt", "ckpt"]


def test_a_corrupt_onnx_encoder_is_one_line_at_load_time(ckpt, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    (ckpt / "encoder.int8.onnx").write_bytes(b"\x08\x07garbage" * 100)
    article = tmp_path / "a.txt"
    article.write_text("Russia and China signed a gas deal.\n")
    assert main(["score", str(article), "--checkpoint", str(ckpt), "--backend", "onnx"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{ckpt / 'encoder.int8.onnx'}: not a usable ONNX graph" in err


class Planted:
    """A pickle that, if anything unpickled it, would leave a file behind."""

    marker = None

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_planted_pickle_in_a_checkpoint_is_never_loaded(ckpt, tmp_path, capsys):
    marker = tmp_path / "pwned"
    Planted.marker = marker
    for name in ("pytorch_model.bin", "model.pkl", "heads.pt"):
        (ckpt / name).write_bytes(pickle.dumps(Planted()))
    article = tmp_path / "a.txt"
    article.write_text("Russia and China signed a gas deal.\n")
    assert main(["score", str(article), "--checkpoint", str(ckpt), "-q"]) == 0
    assert not marker.exists()
    assert json.loads(capsys.readouterr().out.splitlines()[0])["text"] == "Russia and China signed a gas deal."


def test_a_checkpoint_given_as_a_file_or_through_the_environment_to_nowhere(tmp_path, monkeypatch, capsys):
    article = tmp_path / "a.txt"
    article.write_text("Russia and China signed a gas deal.\n")
    assert main(["score", str(article), "--checkpoint", str(article)]) == 2
    assert "no checkpoint at" in capsys.readouterr().err
    monkeypatch.setenv("ENTENTE_CHECKPOINT", str(tmp_path / "nowhere"))
    assert main(["score", str(article)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no checkpoint at" in err and "nowhere" in err
