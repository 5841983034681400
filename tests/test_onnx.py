"""The optional ONNX Runtime backend: export, agreement with torch, CLI, and its errors."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from model import predict  # noqa: E402
from model.cli import main  # noqa: E402
from model.calibration import decide  # noqa: E402
from model.onnx_export import CANDIDATES, DEFAULT_KEEP_FLOAT32, MATMUL_KINDS, export_onnx  # noqa: E402
from model.onnx_runtime import OnnxEncoder  # noqa: E402
from model.predict import load_encoder, load_model  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TEXTS = [
    "Russia will send more gas to China through the Power of Siberia pipeline.",
    "Chinese and Russian warships held joint naval drills near Japan.",
    "Taiwan is part of China, Moscow said.",
    "Kyiv",
    "Beijing has not condemned the invasion of Ukraine, and Western capitals accuse it of helping Moscow "
    "evade sanctions through exports of machine tools, microchips and other dual-use goods.",
]


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


@pytest.fixture(scope="module")
def int8_checkpoint(tiny_checkpoint, tmp_path_factory):
    """The tiny checkpoint exported by the command line, with the fallback's float32 kinds."""
    path = _copy(tiny_checkpoint, tmp_path_factory.mktemp("onnx") / "tiny")
    assert main(["export-onnx", "--checkpoint", str(path), "--keep-float32", *DEFAULT_KEEP_FLOAT32]) == 0
    return path


@pytest.fixture(scope="module")
def float_checkpoint(tiny_checkpoint, tmp_path_factory):
    """The same graph with every weight left in float32: it must match torch exactly."""
    path = _copy(tiny_checkpoint, tmp_path_factory.mktemp("onnx") / "tiny_fp32")
    export_onnx(path, keep_float32=tuple(MATMUL_KINDS))
    return path


def _decisions(model, texts, X):
    return decide(*model.proba_from_embeddings(X, texts), model.thresholds_)


def test_export_writes_a_quantised_graph_and_records_it(int8_checkpoint):
    import onnx

    names = {p.name for p in int8_checkpoint.iterdir()}
    assert "encoder.int8.onnx" in names
    assert not any(n.endswith((".pkl", ".pickle", ".joblib", ".bin", ".pt")) for n in names)
    cfg = json.loads((int8_checkpoint / "encoder.int8.json").read_text())
    assert cfg["file"] == "encoder.int8.onnx" and cfg["quantization"]["per_channel"] is True
    assert cfg["quantization"]["choice"] == {"how": "as requested"}
    assert cfg["quantization"]["matmuls_int8"] == 18 and cfg["quantization"]["matmuls_float32"] == 18
    ops = [n.op_type for n in onnx.load(str(int8_checkpoint / "encoder.int8.onnx")).graph.node]
    assert ops.count("MatMulInteger") == 18


def test_automatic_choice_tries_all_int8_first_then_falls_back(tiny_checkpoint, tmp_path):
    path = _copy(tiny_checkpoint, tmp_path / "auto")
    export_onnx(path, calibration=TEXTS, min_agreement=1.01)  # unreachable: every candidate is tried
    q = json.loads((path / "encoder.int8.json").read_text())["quantization"]
    assert [t["float32"] for t in q["choice"]["tried"]] == [list(keep) for keep in CANDIDATES]
    assert q["choice"]["tried"][-1]["float32"] == list(DEFAULT_KEEP_FLOAT32)
    assert q["float32"] == sorted(DEFAULT_KEEP_FLOAT32) and q["agreement"]["n"] == len(TEXTS)
    assert 0 <= q["agreement"]["same_topics_and_stance"] <= 1


def test_float_graph_matches_torch_exactly(float_checkpoint):
    model = load_model(float_checkpoint)
    x32 = model.embed(TEXTS, batch_size=2)
    xo = OnnxEncoder(float_checkpoint).embed(TEXTS, batch_size=2)  # dynamic batch and token axes
    assert np.abs(x32 - xo).max() < 1e-4
    for a, b in zip(_decisions(model, TEXTS, x32), _decisions(model, TEXTS, xo)):
        assert np.array_equal(a, b)


def test_int8_embeddings_are_close_and_decisions_agree(int8_checkpoint, tiny_dataset):
    model = load_model(int8_checkpoint)
    texts = list(tiny_dataset["text"]) + TEXTS
    x32, x8 = model.embed(texts), load_encoder(int8_checkpoint, "onnx").embed(texts)
    cos = (x32 * x8).sum(axis=1)
    assert cos.min() > 0.99 and np.allclose(np.linalg.norm(x8, axis=1), 1, atol=1e-4)
    (t32, s32), (t8, s8) = _decisions(model, texts, x32), _decisions(model, texts, x8)
    assert (t32 == t8).all(axis=1).mean() >= 0.9 and (s32 == s8).mean() >= 0.9


def test_predict_and_score_with_the_onnx_backend(int8_checkpoint):
    a = predict(TEXTS, checkpoint=int8_checkpoint)
    b = predict(TEXTS, checkpoint=int8_checkpoint, backend="onnx", batch_size=3)
    assert [r["text"] for r in b] == TEXTS and set(b[0]) == set(a[0])
    for ra, rb in zip(a, b):
        assert max(abs(ra["topic_scores"][t] - rb["topic_scores"][t]) for t in ra["topic_scores"]) < 0.05
    one = predict(TEXTS[0], checkpoint=int8_checkpoint, backend="onnx")
    assert isinstance(one, dict) and one["text"] == TEXTS[0]


def test_cli_scores_with_the_onnx_backend(int8_checkpoint, tmp_path, capsys):
    article = tmp_path / "a.txt"
    article.write_text("MOSCOW --- Russia and China signed a gas deal. Their navies held joint drills.\n")
    code = main(["score", str(article), "--checkpoint", str(int8_checkpoint), "--backend", "onnx", "-q"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert [json.loads(line)["text"] for line in out.splitlines()] == [
        "Russia and China signed a gas deal.", "Their navies held joint drills."]


def test_fine_tuned_encoder_is_the_one_exported(tiny_dataset, tmp_path):
    from model.classifier import EntenteClassifier

    ds, n = tiny_dataset, 12  # one training step, with a rate high enough to move the encoder
    clf = EntenteClassifier(fine_tune=True, epochs=1, batch_size=n, learning_rate=1e-3, threshold_folds=0, seed=0)
    clf.fit(ds["text"][:n], np.array(ds["topics"][:n]), np.array(ds["stance"][:n]))
    path = clf.save_pretrained(tmp_path / "ft")
    export_onnx(path, keep_float32=tuple(MATMUL_KINDS))
    tuned = load_model(path).embed(TEXTS)
    xo = OnnxEncoder(path).embed(TEXTS)
    base = EntenteClassifier().embed(TEXTS)
    assert np.abs(tuned - xo).max() < 1e-4 and np.abs(base - xo).max() > 1e-3
    clf.save_pretrained(path)  # saving again drops the export, which may no longer match
    assert not (path / "encoder.int8.onnx").exists()


def test_no_export_is_a_clear_error(tiny_checkpoint, tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="export-onnx"):
        predict("Gas deal.", checkpoint=tiny_checkpoint, backend="onnx")
    article = tmp_path / "a.txt"
    article.write_text("Russia and China signed a gas deal.\n")
    code = main(["score", str(article), "--checkpoint", str(tiny_checkpoint), "--backend", "onnx"])
    err = capsys.readouterr().err
    assert code == 2 and "export-onnx" in err and len(err.strip().splitlines()) == 1


def test_missing_onnxruntime_is_a_clear_error(int8_checkpoint, tmp_path, monkeypatch, capsys):
    fresh = _copy(int8_checkpoint, tmp_path / "fresh")  # not in the model cache yet
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now fails
    with pytest.raises(ImportError, match=r"pip install 'entente\[onnx\]'"):
        predict("Gas deal.", checkpoint=fresh, backend="onnx")
    assert main(["export-onnx", "--checkpoint", str(fresh)]) == 2
    err = capsys.readouterr().err
    assert "entente[onnx]" in err and len(err.strip().splitlines()) == 1


def test_bad_backend_and_bad_kind(tiny_checkpoint):
    with pytest.raises(ValueError, match="backend"):
        predict("x", checkpoint=tiny_checkpoint, backend="tensorrt")
    with pytest.raises(ValueError, match="weight kind"):
        export_onnx(tiny_checkpoint, keep_float32=("everything",))


def test_export_changes_no_file_of_the_checkpoint_and_adds_only_git_ignored_ones(tiny_checkpoint, int8_checkpoint):
    """`entente export-onnx` on the shipped checkpoint leaves a git checkout clean (issue 12)."""
    before = {p.name: p.read_bytes() for p in tiny_checkpoint.iterdir()}
    after = {p.name for p in int8_checkpoint.iterdir()}
    assert all((int8_checkpoint / name).read_bytes() == data for name, data in before.items())
    added = sorted(after - set(before))
    assert added == ["encoder.int8.json", "encoder.int8.onnx"]
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    shipped = [f"checkpoints/default/{name}" for name in added]
    ignored = subprocess.run(["git", "check-ignore", *shipped], cwd=ROOT, capture_output=True, text=True)
    assert ignored.stdout.split() == shipped
