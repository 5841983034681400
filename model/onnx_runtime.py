"""ONNX Runtime backend: runs a checkpoint's exported int8 encoder (``encoder.int8.onnx``).

``OnnxEncoder`` has the torch encoder's ``embed(texts, batch_size)``: the graph does the
transformer body, mean pooling and L2 normalisation; the heads and calibration run as
usual on its embeddings. One intra-op thread per available core. The export itself is
``model.onnx_export``; this module never imports it.

Needs the ``onnx`` extra (``pip install 'entente[onnx]'``); nothing here is imported
unless this backend is asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import numpy as np

from .checkpoint import ONNX_ENCODER_NAME, CheckpointError
from .encoder import available_cores, load_tokenizer, tokenize_sorted

INSTALL_HINT = "pip install 'entente[onnx]'"


def require(module: str, what: str) -> ModuleType:
    """Import an optional dependency, or fail with one line saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"{what} needs the {module} package: {INSTALL_HINT}") from None


def onnx_path(checkpoint: str | Path) -> Path:
    """Where a checkpoint keeps its exported encoder."""
    return Path(checkpoint) / ONNX_ENCODER_NAME


def session_options():
    """ONNX Runtime settings for a small CPU: every available core inside each op, one op at a time."""
    ort = require("onnxruntime", "the ONNX backend")
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
        ort = require("onnxruntime", "the ONNX backend")
        file = onnx_path(checkpoint) if file is None else file
        if not file.is_file():
            raise FileNotFoundError(
                f"checkpoint {checkpoint} has no ONNX encoder ({file.name}); "
                f"run: entente export-onnx --checkpoint {checkpoint}"
            )
        try:
            self.session = ort.InferenceSession(str(file), session_options(), providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime's errors (InvalidProtobuf, Fail, ...) derive from Exception only
            raise CheckpointError(file, f"not a usable ONNX graph, truncated or corrupt "
                                        f"({str(e).splitlines()[0][:200]}); run entente export-onnx again") from None
        inputs = sorted(i.name for i in self.session.get_inputs())
        outputs = self.session.get_outputs()
        if inputs != ["attention_mask", "input_ids"] or len(outputs) != 1 or len(outputs[0].shape) != 2 \
                or not isinstance(outputs[0].shape[1], int):
            raise CheckpointError(file, f"not an entente encoder graph (inputs {inputs}, outputs "
                                        f"{[o.shape for o in outputs]}); run entente export-onnx again")
        self.tokenizer = load_tokenizer()
        self.dim = int(outputs[0].shape[1])

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
