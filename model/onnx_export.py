"""ONNX export: a checkpoint's encoder as an int8 ONNX graph (``entente export-onnx``).

``export_onnx(checkpoint)`` writes ``encoder.int8.onnx`` into a checkpoint: the
transformer body, mean pooling and L2 normalisation in one graph with dynamic batch and
sequence axes, its weight MatMuls quantised to int8 per output channel (activations are
quantised on the fly). All of them when that keeps the checkpoint's decisions on 99% of
the corpus sentences, else all but the kinds int8 moves most (``DEFAULT_KEEP_FLOAT32``).
The heads are not exported: they run as usual on the pooled embedding
(``model.onnx_runtime.OnnxEncoder``). The export is recorded beside the graph in
``encoder.int8.json`` (``model.checkpoint.write_onnx_record``); the checkpoint's other
files are left unchanged, so exporting the shipped checkpoint leaves a git checkout
clean (both files are ignored there).

Needs the ``onnx`` extra (``pip install 'entente[onnx]'``).
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .calibration import decide
from .checkpoint import write_onnx_record
from .encoder import key_mask, mean_pool
from .onnx_runtime import OnnxEncoder, onnx_path, require

OPSET = 17
# The encoder's weight matrices by kind: a pattern on the torch parameter name.
MATMUL_KINDS = {
    "query": r"attention\.self\.query\.",
    "key": r"attention\.self\.key\.",
    "value": r"attention\.self\.value\.",
    "attention-output": r"attention\.output\.dense\.",
    "ffn-in": r"intermediate\.dense\.",
    "ffn-out": r"layer\.\d+\.output\.dense\.",
}
# The fallback when int8 everywhere changes too many decisions. Measured on corpus sentences
# (docs/performance.md): int8 query, key and attention-output weights barely move the heads'
# logits, while int8 value and feed-forward weights can flip decisions near a threshold.
DEFAULT_KEEP_FLOAT32 = ("value", "ffn-in", "ffn-out")
# What an export without explicit kinds tries, fastest first: the first to give the same topics
# and stance as float32 on MIN_AGREEMENT of the calibration sentences is kept. Measured on the
# distilled default (4,977 corpus units, speed of the int8 encoder against float32 torch):
# none 98.45% at 2.84x, value 98.59% at 2.59x, ffn-out 98.94% at 2.28x, value+ffn-out 99.06%
# at 2.18x, ffn-in+ffn-out 99.48% at 1.80x, value+ffn-in+ffn-out 99.84% at 1.79x.
CANDIDATES = ((), ("value",), ("ffn-out",), ("value", "ffn-out"), ("ffn-in", "ffn-out"), DEFAULT_KEEP_FLOAT32)
MIN_AGREEMENT = 0.99
CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "articles"


def corpus_sentences(folder: Path = CORPUS) -> list[str]:
    """Every unit the project's splitter finds in the corpus articles, in file order
    (none when the package runs without its repository)."""
    from .text import split_sentences

    return [p.text for f in sorted(folder.glob("*.txt")) for p in split_sentences(f.read_text(encoding="utf-8"))]


def agreement(model, texts: list[str], x32: np.ndarray, x8: np.ndarray) -> dict:
    """How often embeddings ``x8`` of ``texts`` lead ``model``'s heads to the decisions ``x32`` leads them to,
    and how close the two are."""
    (t32, s32), (t8, s8) = model.proba_from_embeddings(x32, texts), model.proba_from_embeddings(x8, texts)
    (topics32, stance32), (topics8, stance8) = decide(t32, s32, model.thresholds_), decide(t8, s8, model.thresholds_)
    same_topics = (topics32 == topics8).all(axis=1)
    same_stance = stance32 == stance8
    cos = (x32 * x8).sum(axis=1)
    return {
        "n": len(x32),
        "same_topics_and_stance": round(float((same_topics & same_stance).mean()), 4),
        "same_topics": round(float(same_topics.mean()), 4),
        "same_stance": round(float(same_stance.mean()), 4),
        "embedding_cosine_mean": round(float(cos.mean()), 5),
        "embedding_cosine_min": round(float(cos.min()), 5),
        "max_abs_score_diff": round(float(max(np.abs(t32 - t8).max(), np.abs(s32 - s8).max())), 4),
    }


def _pooled_encoder(encoder):
    """Wrap a ``SentenceEncoder`` so the traced graph takes keyword inputs and pools inside."""
    from torch import nn

    class PooledEncoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids, attention_mask):
            hidden = self.encoder.body.hidden_states(input_ids, key_mask(attention_mask))
            return mean_pool(hidden, attention_mask)

    return PooledEncoder().eval()


def _export_float32(encoder, out: Path) -> None:
    """Trace the pooled encoder to a float32 ONNX graph with dynamic batch and token axes."""
    import warnings

    import torch

    ids = torch.tensor([[101, 2845, 1998, 2859, 2772, 1037, 3806, 3066, 1012, 102], [101, 7632, 102] + [0] * 7])
    mask = (ids != 0).long()
    axes = {0: "batch", 1: "tokens"}
    with torch.inference_mode(), warnings.catch_warnings():
        # torch 2.9+ defaults to its torch.export-based exporter, which needs onnxscript; the
        # TorchScript one traces this plain graph fine and only warns that it is the old one.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            _pooled_encoder(encoder), (), str(out), kwargs={"input_ids": ids, "attention_mask": mask},
            input_names=["input_ids", "attention_mask"], output_names=["embedding"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "embedding": {0: "batch"}},
            opset_version=OPSET, do_constant_folding=True, dynamo=False,
        )


def _weight_kinds(model_path: Path, encoder) -> dict[str, str]:
    """Kind of each weight MatMul in the exported graph (node name -> kind), found by matching
    its constant input with the torch parameters (the exporter stores ``W`` transposed)."""
    import re

    import onnx
    from onnx import numpy_helper

    params = {}
    for name, p in encoder.body.named_parameters():
        if p.ndim == 2:
            params[np.ascontiguousarray(p.detach().numpy().T).tobytes()] = name
    graph = onnx.load(str(model_path)).graph
    inits = {i.name: i for i in graph.initializer}
    kinds = {}
    for node in graph.node:
        if node.op_type == "MatMul" and node.input[1] in inits:
            param = params.get(numpy_helper.to_array(inits[node.input[1]]).tobytes(), "")
            kinds[node.name] = next((k for k, pat in MATMUL_KINDS.items() if re.search(pat, param)), "other")
    return kinds


def _quantize(src: Path, dst: Path, encoder, keep_float32: Sequence[str]) -> dict:
    """Dynamic int8 quantisation of the weight MatMuls not in ``keep_float32``, one scale per
    output channel (activations are quantised per batch, at run time). Returns what was done."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    shaped = src.with_suffix(".shaped.onnx")
    quant_pre_process(str(src), str(shaped), skip_optimization=True)  # shape inference; node names kept
    kinds = _weight_kinds(shaped, encoder)
    excluded = [node for node, kind in kinds.items() if kind in keep_float32]
    quantize_dynamic(
        str(shaped), str(dst), per_channel=True, weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul"], nodes_to_exclude=excluded,
    )
    return {
        "method": "onnxruntime quantize_dynamic", "weight_type": "QInt8", "per_channel": True,
        "int8": sorted({k for k in kinds.values()} - set(keep_float32)), "float32": sorted(keep_float32),
        "matmuls_int8": len(kinds) - len(excluded), "matmuls_float32": len(excluded),
    }


def export_onnx(
    checkpoint: str | Path,
    keep_float32: Sequence[str] | None = None,
    calibration: Sequence[str] | None = None,
    min_agreement: float = MIN_AGREEMENT,
) -> Path:
    """Write ``encoder.int8.onnx`` into ``checkpoint`` and its record, ``encoder.int8.json``, beside it.

    The encoder exported is the checkpoint's own (fine-tuned weights when it has them).
    ``keep_float32`` names the kinds of weight (keys of ``MATMUL_KINDS``) left unquantised,
    ``()`` for none. Without it, the settings in ``CANDIDATES`` are tried fastest first and the
    first whose decisions match float32 on ``min_agreement`` of the ``calibration`` sentences
    (default: the corpus) is kept; how each fared is recorded. Returns the ONNX file's path.
    """
    unknown = sorted(set(keep_float32 or ()) - set(MATMUL_KINDS))
    if unknown:
        raise ValueError(f"unknown weight kind(s) {', '.join(unknown)}; choose from {', '.join(MATMUL_KINDS)}")
    require("onnx", "ONNX export")
    require("onnxruntime", "ONNX export")
    from .predict import load_model

    path = Path(checkpoint)
    model = load_model(path)
    texts = [] if keep_float32 is not None else list(corpus_sentences() if calibration is None else calibration)
    candidates = [tuple(keep_float32)] if keep_float32 is not None else list(CANDIDATES) if texts else [DEFAULT_KEEP_FLOAT32]
    dst = onnx_path(path)
    # in the checkpoint's folder, so that the finished file is renamed into place (same file system)
    with tempfile.TemporaryDirectory(prefix=".entente-onnx-", dir=path) as tmp:
        fp32, int8 = Path(tmp) / "encoder.fp32.onnx", Path(tmp) / dst.name
        _export_float32(model.encoder_, fp32)
        x32 = model.embed(texts) if texts else None
        tried = []
        for keep in candidates:
            quantization = _quantize(fp32, int8, model.encoder_, keep)
            if x32 is not None:
                quantization["agreement"] = agreement(model, texts, x32, OnnxEncoder(path, int8).embed(texts))
                tried.append({"float32": list(keep), **quantization["agreement"]})
                if quantization["agreement"]["same_topics_and_stance"] >= min_agreement:
                    break
        quantization["choice"] = _choice(keep_float32, len(texts), min_agreement, tried)
        int8.replace(dst)
    write_onnx_record(path, {"file": dst.name, "opset": OPSET, "quantization": quantization,
                             "sha256": hashlib.sha256(dst.read_bytes()).hexdigest()})
    return dst


def _choice(keep_float32, n_texts: int, min_agreement: float, tried: list[dict]) -> dict:
    """How the quantised weights were chosen, for the export's record."""
    if keep_float32 is not None:
        return {"how": "as requested"}
    if not tried:
        return {"how": "fallback: no calibration sentences (corpus/articles not found)"}
    return {"how": f"fastest setting with the same decisions as float32 on >= {min_agreement:.0%} "
                   f"of {n_texts} corpus sentences (else the last tried)", "tried": tried}


