"""Every int8 setting the ONNX export's automatic choice can try, on one checkpoint.

    python benchmarks/onnx_settings.py [--checkpoint checkpoints/default]

For each entry of ``model.onnx_export.CANDIDATES`` (kinds of weight left in float32), the
share of the corpus sentences whose topics and stance match float32 torch, and the int8
encoder's speed on them against float32 torch (one timed pass each, so a rough figure; the
benchmark of record is ``benchmarks/throughput.py``). Needs the ``onnx`` extra. Nothing is
written into the checkpoint: exports go to a temporary folder.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=str(ROOT / "checkpoints" / "default"))
    args = parser.parse_args(argv)

    from model.onnx_export import CANDIDATES, _export_float32, _quantize, agreement, corpus_sentences
    from model.onnx_runtime import OnnxEncoder
    from model.predict import load_model

    path = Path(args.checkpoint)
    model = load_model(path)
    texts = corpus_sentences()
    with tempfile.TemporaryDirectory(prefix="entente-onnx-settings-") as tmp:
        fp32 = Path(tmp) / "encoder.fp32.onnx"
        _export_float32(model.encoder_, fp32)
        started = time.perf_counter()
        x32 = model.embed(texts)
        seconds32 = time.perf_counter() - started
        print(f"{len(texts)} corpus sentences; float32 torch: {len(texts) / seconds32:.1f}/s\n")
        print("| left in float32 | same topics and stance | same topics | same stance | speed vs float32 |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for keep in CANDIDATES:
            int8 = Path(tmp) / f"encoder.int8-{len(keep)}-{'-'.join(keep) or 'none'}.onnx"
            _quantize(fp32, int8, model.encoder_, keep)
            encoder = OnnxEncoder(path, int8)
            started = time.perf_counter()
            x8 = encoder.embed(texts)
            seconds8 = time.perf_counter() - started
            a = agreement(model, texts, x32, x8)
            print(f"| {', '.join(keep) or 'nothing (all int8)'} | {a['same_topics_and_stance']:.2%} | "
                  f"{a['same_topics']:.2%} | {a['same_stance']:.2%} | {seconds32 / seconds8:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
