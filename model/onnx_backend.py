"""Optional ONNX Runtime backend: the encoder exported with dynamic int8 quantisation.

``export_onnx(checkpoint)`` (the command ``entente export-onnx``) writes
``encoder.int8.onnx`` into a checkpoint: the transformer body, mean pooling and L2
normalisation in one graph with dynamic batch and sequence axes, its weight MatMuls
quantised to int8 per output channel (activations are quantised on the fly). All of them
when that keeps the checkpoint's decisions on 99% of the corpus sentences, else all but
the kinds int8 moves most (``DEFAULT_KEEP_FLOAT32``). The heads are not
exported: they run as usual on the pooled embedding. ``OnnxEncoder`` runs that graph
with one intra-op thread per available core.

Both need the ``onnx`` extra (``pip install 'entente[onnx]'``); nothing here is imported
unless this backend is asked for.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .classifier import CONFIG_NAME, ONNX_ENCODER_NAME, _write_text
from .encoder import available_cores, key_mask, load_tokenizer, mean_pool, tokenize_sorted

OPSET = 17
INSTALL_HINT = "pip install 'entente[onnx]'"
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
# and stance as float32 on MIN_AGREEMENT of the calibration sentences is kept.
CANDIDATES = ((), DEFAULT_KEEP_FLOAT32)
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
    same_topics = ((t32 >= model.thresholds_) == (t8 >= model.thresholds_)).all(axis=1)
    same_stance = s32.argmax(axis=1) == s8.argmax(axis=1)
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


def _require(module: str, what: str):
    """Import an optional dependency, or fail with one line saying how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"{what} needs the {module} package: {INSTALL_HINT}") from None


def onnx_path(checkpoint: str | Path) -> Path:
    return Path(checkpoint) / ONNX_ENCODER_NAME


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
    """Write ``encoder.int8.onnx`` into ``checkpoint`` and record it in its ``config.json``.

    The encoder exported is the checkpoint's own (fine-tuned weights when it has them).
    ``keep_float32`` names the kinds of weight (keys of ``MATMUL_KINDS``) left unquantised,
    ``()`` for none. Without it, the settings in ``CANDIDATES`` are tried fastest first and the
    first whose decisions match float32 on ``min_agreement`` of the ``calibration`` sentences
    (default: the corpus) is kept; how each fared is recorded. Returns the ONNX file's path.
    """
    unknown = sorted(set(keep_float32 or ()) - set(MATMUL_KINDS))
    if unknown:
        raise ValueError(f"unknown weight kind(s) {', '.join(unknown)}; choose from {', '.join(MATMUL_KINDS)}")
    _require("onnx", "ONNX export")
    _require("onnxruntime", "ONNX export")
    from .predict import load_model

    path = Path(checkpoint)
    model = load_model(path)
    texts = [] if keep_float32 is not None else list(corpus_sentences() if calibration is None else calibration)
    candidates = [tuple(keep_float32)] if keep_float32 is not None else list(CANDIDATES) if texts else [DEFAULT_KEEP_FLOAT32]
    dst = onnx_path(path)
    with tempfile.TemporaryDirectory(prefix="entente-onnx-") as tmp:
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
    config = json.loads((path / CONFIG_NAME).read_text())
    config["onnx"] = {
        "file": dst.name, "opset": OPSET, "quantization": quantization,
        "sha256": hashlib.sha256(dst.read_bytes()).hexdigest(),
    }
    _write_text(path / CONFIG_NAME, json.dumps(config, indent=2) + "\n")
    return dst


def _choice(keep_float32, n_texts: int, min_agreement: float, tried: list[dict]) -> dict:
    """How the quantised weights were chosen, for config.json."""
    if keep_float32 is not None:
        return {"how": "as requested"}
    if not tried:
        return {"how": "fallback: no calibration sentences (corpus/articles not found)"}
    return {"how": f"fastest setting with the same decisions as float32 on >= {min_agreement:.0%} "
                   f"of {n_texts} corpus sentences (else the last tried)", "tried": tried}


def session_options():
    """ONNX Runtime settings for a small CPU: every available core inside each op, one op at a time."""
    ort = _require("onnxruntime", "the ONNX backend")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = available_cores()
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3  # errors only
    return opts


class OnnxEncoder:
    """The exported int8 encoder of a checkpoint: ``embed(texts)`` like the torch encoder's."""

    def __init__(self, checkpoint: str | Path, file: Path | None = None):
        ort = _require("onnxruntime", "the ONNX backend")
        file = onnx_path(checkpoint) if file is None else file
        if not file.is_file():
            raise FileNotFoundError(
                f"checkpoint {checkpoint} has no ONNX encoder ({file.name}); "
                f"run: entente export-onnx --checkpoint {checkpoint}"
            )
        self.session = ort.InferenceSession(str(file), session_options(), providers=["CPUExecutionProvider"])
        self.tokenizer = load_tokenizer()
        self.dim = int(self.session.get_outputs()[0].shape[1])

    def run(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """One batch of token ids to pooled, normalised embeddings ``[b, dim]``."""
        return self.session.run(None, {"input_ids": input_ids, "attention_mask": attention_mask})[0]

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Embed ``texts`` in their original order (float32, shape ``[n, dim]``)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if len(texts):
            for idx, batch in tokenize_sorted(self.tokenizer, texts, batch_size):
                out[idx] = self.run(batch["input_ids"].numpy(), batch["attention_mask"].numpy())
        return out
