"""The checkpoint format: its files, the ``config.json`` schema, where the default lives.

A checkpoint is a folder of JSON and safetensors files (never pickle)::

    config.json           labels, calibration, encoder provenance, parameters (SCHEMA_VERSION)
    model.safetensors     the heads (model.heads.Heads' parameter names)
    encoder.safetensors   the fine-tuned encoder body, float16 (only when fine-tuned)
    encoder.int8.onnx     the int8 ONNX encoder (only after `entente export-onnx`)
    encoder.int8.json     how it was exported and quantised (with it)
    metrics.json          training and cross-validation figures (optional)
    model_card.md         what the model is, for people (optional)

This module is the one place that names those files, reads and writes them, and
validates them: a missing key, a value of the wrong type, invalid JSON, a truncated
safetensors file, weights of the wrong shape or not finite (NaN) is a ``CheckpointError``, one line
naming the file and the problem, raised when the checkpoint is loaded rather than
later. Every file is written atomically (a temporary file in the same folder, then a
rename), so an interrupted save never leaves a half-written file.

It also says where the default checkpoint is (``default_checkpoint``): the environment
variable ``ENTENTE_CHECKPOINT``, else ``checkpoints/default`` of a checkout, else the
copy an installed wheel carries in ``<prefix>/share/entente/checkpoints/default``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from .labels import STANCES, TOPICS

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
ENCODER_WEIGHTS_NAME = "encoder.safetensors"
ONNX_ENCODER_NAME = "encoder.int8.onnx"
# The export's record sits beside the graph, not in config.json: exporting adds files to a
# checkpoint and changes none, so the shipped checkpoint's tracked files stay as committed.
ONNX_RECORD_NAME = "encoder.int8.json"
METRICS_NAME = "metrics.json"
MODEL_CARD_NAME = "model_card.md"

SCHEMA_VERSION = 1
"""Version of the ``config.json`` layout. Checkpoints written before it was recorded
have the layout of version 1 and load as such; a newer version is refused."""

MODEL_TYPE = "entente"
DISTRIBUTION = "entente"
ENV_VAR = "ENTENTE_CHECKPOINT"
# Where a wheel installs the shipped checkpoint, relative to the installation prefix
# (pyproject.toml's [tool.setuptools.data-files]).
INSTALLED_DEFAULT = Path("share") / "entente" / "checkpoints" / "default"
CHECKOUT_DEFAULT = Path(__file__).resolve().parent.parent / "checkpoints" / "default"


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used: the message is one line naming the file and the problem."""

    def __init__(self, file: str | Path, problem: str):
        super().__init__(f"{file}: {problem}")
        self.file = Path(file)


# -- where checkpoints are ---------------------------------------------------------------


def package_version() -> str:
    """The installed version of the ``entente`` distribution (``0+unknown`` when it is not installed)."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "0+unknown"


def _installed_default() -> Path | None:
    """The checkpoint folder an installed wheel carries, found through its file list."""
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None
    wanted = (INSTALLED_DEFAULT / CONFIG_NAME).as_posix()
    for file in dist.files or ():
        if file.as_posix().endswith(wanted):
            config = Path(dist.locate_file(file)).resolve()
            if config.is_file():
                return config.parent
    return None


def default_checkpoint() -> Path | None:
    """The checkpoint used when none is given: ``$ENTENTE_CHECKPOINT``, else the checkout's
    ``checkpoints/default``, else the installed one; ``None`` when there is none."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    if (CHECKOUT_DEFAULT / CONFIG_NAME).is_file():
        return CHECKOUT_DEFAULT
    return _installed_default()


def resolve(checkpoint: str | Path | None = None) -> Path:
    """``checkpoint`` as a path, or the default one; ``FileNotFoundError`` saying how to pass one."""
    if checkpoint is not None:
        return Path(checkpoint)
    found = default_checkpoint()
    if found is None:
        raise FileNotFoundError(
            f"no default checkpoint found (none in this checkout or installation); pass one with "
            f"--checkpoint DIR (checkpoint= in Python) or set the environment variable {ENV_VAR}=DIR")
    return found


# -- config.json -------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    """A finite int or float (JSON's NaN and Infinity, which Python's json reads, are not numbers here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_TYPES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "string": (lambda v: isinstance(v, str), "a string"),
    "int": (_is_int, "an integer"),
    "number": (_is_number, "a number"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "object": (lambda v: isinstance(v, dict), "an object"),
    "list": (lambda v: isinstance(v, list), "a list"),
    "string?": (lambda v: v is None or isinstance(v, str), "a string or null"),
    "int?": (lambda v: v is None or _is_int(v), "an integer or null"),
}

# Version 1: every key, with its type ("?": may be null).
SCHEMA: dict[str, str] = {
    "model_type": "string",
    "schema_version": "int",
    "package_version": "string",
    "topics": "list",
    "stances": "list",
    "thresholds": "object",
    "topic_calibration": "object",
    "stance_temperature": "number",
    "calibration": "object",
    "encoder": "object",
    "training_data_hash": "string?",
    "n_train": "int?",
    "params": "object",
}
OPTIONAL = {"onnx": "object"}
ENCODER_SCHEMA = {"name": "string", "fine_tuned": "bool"}
TOPIC_CALIBRATION_KEYS = ("logit", "cue", "bias")


def _check_type(file: Path, where: str, value: Any, kind: str) -> None:
    test, words = _TYPES[kind]
    if isinstance(value, float) and not math.isfinite(value):
        raise CheckpointError(file, f"{where} must be finite, not {value}")
    if not test(value):
        raise CheckpointError(file, f"{where} must be {words}, not {type(value).__name__}")


def validate_config(config: Any, file: str | Path = CONFIG_NAME) -> dict:
    """Check ``config`` against the schema; return it (``schema_version`` filled in) or raise ``CheckpointError``."""
    file = Path(file)
    if not isinstance(config, dict):
        raise CheckpointError(file, f"must hold a JSON object, not {type(config).__name__}")
    config = dict(config)
    config.setdefault("schema_version", SCHEMA_VERSION)  # written before versioning: the layout of version 1
    _check_type(file, "'schema_version'", config["schema_version"], "int")
    if config["schema_version"] > SCHEMA_VERSION:
        raise CheckpointError(file, f"schema_version {config['schema_version']} is newer than this entente "
                                    f"({package_version()}) reads ({SCHEMA_VERSION}); upgrade entente")
    for key, kind in SCHEMA.items():
        if key not in config:
            raise CheckpointError(file, f"missing key {key!r}")
        _check_type(file, repr(key), config[key], kind)
    for key, kind in OPTIONAL.items():
        if key in config:
            _check_type(file, repr(key), config[key], kind)
    if config["model_type"] != MODEL_TYPE:
        raise CheckpointError(file, f"model_type is {config['model_type']!r}, not {MODEL_TYPE!r}")
    if config["topics"] != list(TOPICS) or config["stances"] != list(STANCES):
        raise CheckpointError(file, f"trained for labels {config['topics']} / {config['stances']}, but this "
                                    f"package defines {list(TOPICS)} / {list(STANCES)}")
    for topic in TOPICS:
        where = f"'thresholds'.{topic}"
        if topic not in config["thresholds"]:
            raise CheckpointError(file, f"missing key {where}")
        _check_type(file, where, config["thresholds"][topic], "number")
        if not 0 <= config["thresholds"][topic] <= 1:
            raise CheckpointError(file, f"{where} must be a probability from 0 to 1, not {config['thresholds'][topic]}")
        entry = config["topic_calibration"].get(topic)
        if not isinstance(entry, dict):
            raise CheckpointError(file, f"'topic_calibration'.{topic} must be an object with keys "
                                        f"{', '.join(TOPIC_CALIBRATION_KEYS)}")
        for key in TOPIC_CALIBRATION_KEYS:
            if key not in entry:
                raise CheckpointError(file, f"missing key 'topic_calibration'.{topic}.{key}")
            _check_type(file, f"'topic_calibration'.{topic}.{key}", entry[key], "number")
    if not config["stance_temperature"] > 0:
        raise CheckpointError(file, f"'stance_temperature' must be positive, not {config['stance_temperature']}")
    for key, kind in ENCODER_SCHEMA.items():
        if key not in config["encoder"]:
            raise CheckpointError(file, f"missing key 'encoder'.{key}")
        _check_type(file, f"'encoder'.{key}", config["encoder"][key], kind)
    return config


def read_config(path: str | Path) -> dict:
    """The validated ``config.json`` of the checkpoint folder ``path``."""
    path = Path(path)
    file = path / CONFIG_NAME
    if not file.exists():
        raise FileNotFoundError(f"no checkpoint at {path}: {CONFIG_NAME} is missing")
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise CheckpointError(file, f"not valid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    except UnicodeDecodeError:
        raise CheckpointError(file, "not UTF-8 text") from None
    except OSError as e:
        raise CheckpointError(file, f"cannot be read ({e.strerror or e})") from None
    return validate_config(config, file)


def write_config(path: str | Path, config: dict) -> None:
    """Validate ``config`` and write it as the ``config.json`` of the folder ``path``, atomically."""
    file = Path(path) / CONFIG_NAME
    config = validate_config(config, file)
    atomic_write_text(file, json.dumps(config, indent=2) + "\n")


def update_config(path: str | Path, **entries: Any) -> dict:
    """Read a checkpoint's ``config.json``, set ``entries`` in it, write it back; return it."""
    config = {**read_config(path), **entries}
    write_config(path, config)
    return config


def read_onnx_record(path: str | Path) -> dict | None:
    """The record of a checkpoint's ONNX export (file, opset, quantization, sha256); ``None`` without one.

    Checkpoints exported before the record had its own file keep it in ``config.json``'s
    ``onnx`` entry, which is read then."""
    path = Path(path)
    file = path / ONNX_RECORD_NAME
    if not file.exists():
        return read_config(path).get("onnx")
    try:
        record = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(file, f"not valid JSON ({e})") from None
    except OSError as e:
        raise CheckpointError(file, f"cannot be read ({e.strerror or e})") from None
    if not isinstance(record, dict):
        raise CheckpointError(file, f"must hold a JSON object, not {type(record).__name__}")
    return record


def write_onnx_record(path: str | Path, record: dict) -> None:
    """Write the record of an ONNX export beside the graph, atomically."""
    atomic_write_text(Path(path) / ONNX_RECORD_NAME, json.dumps(record, indent=2) + "\n")


# -- weights -----------------------------------------------------------------------------


def read_tensors(file: str | Path, shapes: Mapping[str, Sequence[int]]) -> dict:
    """The tensors of a safetensors file, checked to be exactly ``shapes`` (name -> shape), as float32."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    import torch

    file = Path(file)
    if not file.exists():
        raise CheckpointError(file, "missing")
    try:
        tensors = load_file(str(file))
    except SafetensorError as e:
        raise CheckpointError(file, f"not a valid safetensors file, truncated or corrupt ({e})") from None
    except OSError as e:
        raise CheckpointError(file, f"cannot be read ({e.strerror or e})") from None
    missing, unexpected = sorted(set(shapes) - set(tensors)), sorted(set(tensors) - set(shapes))
    if missing or unexpected:
        problem = "; ".join(part for part in (
            f"missing tensor(s) {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}" if missing else "",
            f"unexpected tensor(s) {', '.join(unexpected[:3])}{' ...' if len(unexpected) > 3 else ''}"
            if unexpected else "") if part)
        raise CheckpointError(file, problem)
    for name, shape in shapes.items():
        if tuple(tensors[name].shape) != tuple(shape):
            raise CheckpointError(file, f"tensor {name!r} has shape {list(tensors[name].shape)}, "
                                        f"expected {list(shape)}")
        if not tensors[name].is_floating_point():
            raise CheckpointError(file, f"tensor {name!r} holds {tensors[name].dtype}, not floating-point weights")
        if not torch.isfinite(tensors[name]).all():
            raise CheckpointError(file, f"tensor {name!r} holds NaN or infinite values")
    return {name: tensor.float() for name, tensor in tensors.items()}


def write_tensors(file: str | Path, tensors: Mapping) -> None:
    """Write tensors to a safetensors file, atomically."""
    from safetensors.torch import save_file

    file = Path(file)
    with _temporary_beside(file) as tmp:
        save_file({name: t.detach().contiguous() for name, t in tensors.items()}, str(tmp))


# -- writing -----------------------------------------------------------------------------


class _temporary_beside:
    """A temporary path in ``file``'s folder, renamed to ``file`` on success and removed on failure."""

    def __init__(self, file: Path):
        self.file = file

    def __enter__(self) -> Path:
        fd, tmp = tempfile.mkstemp(prefix=f".{self.file.name}.", suffix=".tmp", dir=self.file.parent)
        os.close(fd)
        self.tmp = Path(tmp)
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            os.chmod(self.tmp, 0o644)
            os.replace(self.tmp, self.file)
        else:
            self.tmp.unlink(missing_ok=True)


def atomic_write_text(file: str | Path, text: str) -> None:
    """Write ``text`` to ``file`` atomically (UTF-8)."""
    file = Path(file)
    with _temporary_beside(file) as tmp:
        tmp.write_text(text, encoding="utf-8")


def save(path: str | Path, config: dict, heads: Mapping, encoder: Mapping | None = None,
         metrics: dict | None = None, model_card: str | None = None) -> Path:
    """Write a checkpoint folder: weights first, ``config.json`` last (validated before anything is written).

    ``encoder``: the fine-tuned body's tensors (stored float16), or ``None`` for the
    bundled encoder (an older ``encoder.safetensors`` is then removed). An earlier ONNX
    export is removed too: it may not match the encoder saved now.
    """
    import torch

    path = Path(path)
    config = validate_config(config, path / CONFIG_NAME)
    path.mkdir(parents=True, exist_ok=True)
    write_tensors(path / WEIGHTS_NAME, heads)
    if encoder is not None:
        write_tensors(path / ENCODER_WEIGHTS_NAME, {k: v.to(torch.float16) for k, v in encoder.items()})
    else:
        (path / ENCODER_WEIGHTS_NAME).unlink(missing_ok=True)
    (path / ONNX_ENCODER_NAME).unlink(missing_ok=True)
    (path / ONNX_RECORD_NAME).unlink(missing_ok=True)
    config.pop("onnx", None)
    write_config(path, config)
    if metrics is not None:
        atomic_write_text(path / METRICS_NAME, json.dumps(metrics, indent=2) + "\n")
    if model_card is not None:
        atomic_write_text(path / MODEL_CARD_NAME, model_card)
    return path


def training_data_hash(texts: Sequence[str], topics, stances) -> str:
    """A short fingerprint of the training data (texts and labels), stored in checkpoints for provenance."""
    import numpy as np

    digest = hashlib.sha256()
    for text, topic_row, stance in zip(texts, np.asarray(topics).tolist(), np.asarray(stances).tolist()):
        digest.update(json.dumps([text, topic_row, stance], ensure_ascii=False).encode())
    return digest.hexdigest()[:16]
