"""benchmarks/throughput.py runs end to end on a few sentences and writes the expected JSON."""

import importlib.util
import json
import shutil

import pytest

from tests.conftest import ROOT


def load_benchmark():
    spec = importlib.util.spec_from_file_location("throughput", ROOT / "benchmarks" / "throughput.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_writes_table_and_json(tiny_checkpoint, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    bench = load_benchmark()
    ckpt = shutil.copytree(tiny_checkpoint, tmp_path / "ckpt")  # no export: the run makes a temporary one
    out = tmp_path / "results.json"
    code = bench.main(["--checkpoint", str(ckpt), "--output", str(out), "--n", "24", "--batch-size", "8",
                       "--repeats", "1", "--peer-n", "3", "--cold-repeats", "1", "--no-setfit", "--no-reference",
                       "--onnx-keep-float32", "value", "ffn-in", "ffn-out"])
    assert code == 0
    result = json.loads(out.read_text())
    assert {"machine", "checkpoint", "n", "throughput", "cold_start", "onnx", "onnx_agreement", "checks",
            "targets"} <= set(result)
    rows = result["throughput"]
    assert {"raw_encoder", "predict", "predict_per_sentence", "setfit_predict", "onnx_raw_encoder",
            "predict_onnx"} <= set(rows)
    assert rows["raw_encoder"]["ratio_to_raw_encoder"] == 1.0 and rows["predict"]["sentences_per_s"] > 0
    assert rows["setfit_predict"] == {"skipped": "--no-setfit"}
    assert [c["backend"] for c in result["cold_start"]] == ["torch", "onnx"]
    assert all(c["wall_s"] > 0 and c["peak_rss_mb"] > 0 for c in result["cold_start"])
    assert 0 <= result["onnx_agreement"]["same_topics_and_stance"] <= 1
    assert set(result["checks"]) >= {"predict_ratio", "cold_start_time", "cold_start_memory", "onnx_speedup",
                                     "onnx_agreement"}
    assert not (ckpt / "encoder.int8.onnx").exists()  # the benchmark never writes into the checkpoint
    printed = capsys.readouterr().out
    assert "raw encoder forward" in printed and "cold start" in printed and "targets:" in printed


def test_benchmark_refuses_a_missing_checkpoint(tmp_path):
    assert load_benchmark().main(["--checkpoint", str(tmp_path), "--output", str(tmp_path / "r.json")]) == 2
