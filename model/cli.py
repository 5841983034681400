"""``entente``: score articles and export the ONNX encoder from the command line.

A thin layer over ``model.predict``, ``model.report`` and ``model.onnx_export``. Exit
status: 0 on success, 1 when some inputs failed (the others are still scored and
written), 2 on a usage error (an invalid checkpoint included). Errors a user can cause
are one line on standard error.

``entente train`` and ``entente evaluate`` are a lazy dispatch, by module name, to
``python -m training.train`` and ``python -m training.evaluate``: every argument after
the command (``--help`` included) goes to that module. Nothing in ``model`` imports
``training``; only these two commands load it, and only when they run.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

LARGE_FILE_BYTES = 5 * 1024 * 1024
# `entente COMMAND ARGS...` runs `python -m MODULE ARGS...` (the module's own parser and --help).
FORWARDED = {
    "train": ("training.train", "train a checkpoint from a TOML config"),
    "evaluate": ("training.evaluate", "grouped cross-validation of the models on the same folds"),
}


CHECKPOINT_HELP = ("checkpoint folder (default: $ENTENTE_CHECKPOINT, else the shipped checkpoints/default "
                   "of this checkout or installation)")


class UsageError(Exception):
    """A mistake in how the command was called (exit status 2)."""


class InputError(Exception):
    """One input could not be scored (exit status 1; the other inputs go on)."""


@dataclass
class Source:
    name: str  # as shown in output records
    path: Path | None  # None: standard input


def _warn(msg: str) -> None:
    print(f"entente: warning: {msg}", file=sys.stderr)


def _error(msg: str) -> None:
    print(f"entente: error: {msg}", file=sys.stderr)


def collect_sources(paths: list[str]) -> tuple[list[Source], list[str]]:
    """Expand files, folders (every ``.txt``, recursively) and ``-``; return sources and errors."""
    sources, errors = [], []
    for p in paths:
        if p == "-":
            sources.append(Source("<stdin>", None))
            continue
        path = Path(p)
        if path.is_dir():
            found = sorted(f for f in path.rglob("*.txt") if f.is_file())
            if not found:
                errors.append(f"{p}: folder contains no .txt file")
            sources.extend(Source(str(f), f) for f in found)
        elif path.exists():
            sources.append(Source(str(path), path))
        else:
            errors.append(f"{p}: no such file or folder")
    return sources, errors


def read_source(src: Source) -> str:
    """Read one input as text, refusing what cannot be an article; raise ``InputError``."""
    try:
        data = sys.stdin.buffer.read() if src.path is None else src.path.read_bytes()
    except PermissionError:
        raise InputError(f"{src.name}: permission denied") from None
    except IsADirectoryError:
        raise InputError(f"{src.name}: is a folder") from None
    except OSError as e:
        raise InputError(f"{src.name}: cannot read ({e.strerror or e})") from None
    if b"\x00" in data[:65536]:
        raise InputError(f"{src.name}: looks like a binary file (NUL bytes), not text")
    if len(data) > LARGE_FILE_BYTES:
        _warn(f"{src.name}: large file ({len(data) / 2**20:.1f} MiB); scoring it may take a while")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        _warn(f"{src.name}: not valid UTF-8 (byte {e.start}); undecodable bytes replaced with U+FFFD")
        text = data.decode("utf-8", errors="replace")
    if not text.strip():
        raise InputError(f"{src.name}: empty file, nothing to score")
    return text


def cmd_score(args: argparse.Namespace) -> int:
    from .report import format_for, open_writer

    fmt = format_for(args.output, args.format)
    if args.engine == "ray":
        return cmd_score_ray(args)
    check_archive_args(args, fmt)
    if args.output:
        parent = Path(args.output).resolve().parent
        if not parent.is_dir():
            raise UsageError(f"output folder {parent} does not exist")
        if Path(args.output).is_dir():
            raise UsageError(f"output {args.output} is a folder; give a file name")
    if args.batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    if args.paths.count("-") > 1:
        raise UsageError("standard input ('-') can be given only once")
    sources, errors = collect_sources(args.paths)
    for e in errors:
        _error(e)

    from . import archive
    from .predict import load_encoder, load_model

    try:
        load_model(args.checkpoint)
        load_encoder(args.checkpoint, args.backend)
        manifest = archive.read_manifests(args.manifest) if args.manifest else None
    except (ImportError, FileNotFoundError, ValueError) as e:
        raise UsageError(str(e)) from None
    inputs = (archive.ArticleInput(s.name, path=s.path, meta=archive.manifest_meta(s.name, manifest))
              for s in sources)

    failed = len(errors)
    progress = None
    if len(sources) > 1 and not args.quiet:
        from tqdm.auto import tqdm

        progress = tqdm(total=len(sources), desc="scoring", unit="file", file=sys.stderr)
    options = {"period": args.period, "run": archive.run_info(args.checkpoint, args.passage, args.backend)}
    with (open_writer(fmt, args.output, **(options if fmt == "html" else {})) as writer,
          archive.ArchiveTables(args.articles, args.timeline, args.period) as tables):
        for item in archive.iter_scored(inputs, passage=args.passage, checkpoint=args.checkpoint,
                                        batch_size=args.batch_size, backend=args.backend,
                                        read=lambda a: read_source(Source(a.source, a.path)),
                                        read_errors=(InputError,)):
            if item.error is not None:
                _error(item.error)
                failed += 1
            else:
                if not item.result["passages"]:
                    _warn(f"{item.source}: no sentence to score (only headings or page furniture)")
                writer.write_article(item.source, item.result)
                tables.add(item.source, item.result)
            if progress is not None:
                progress.update(1)
    if progress is not None:
        progress.close()
    if tables.left_out_note and not args.quiet:
        _warn(tables.left_out_note)
    if args.output and not args.quiet:
        print(f"entente: wrote {fmt} for {len(sources) - (failed - len(errors))} input(s) to {args.output}",
              file=sys.stderr)
    return 1 if failed else 0


def check_archive_args(args: argparse.Namespace, fmt: str) -> None:
    """Usage errors of the archive options, before any scoring starts."""
    from .tables import require_pyarrow, table_format

    if args.address:
        raise UsageError("--address needs --engine ray")
    for option, path in (("--articles", args.articles), ("--timeline", args.timeline)):
        if path is None:
            continue
        try:
            if table_format(path) == "parquet":
                require_pyarrow()
        except (ValueError, ImportError) as e:
            raise UsageError(f"{option} {e}") from None
        if not Path(path).resolve().parent.is_dir():
            raise UsageError(f"{option}: folder {Path(path).resolve().parent} does not exist")
    if fmt == "parquet":
        if not args.output:
            raise UsageError("Parquet output needs -o FILE.parquet")
        try:
            require_pyarrow()
        except ImportError as e:
            raise UsageError(str(e)) from None


def cmd_score_ray(args: argparse.Namespace) -> int:
    """``--engine ray``: the Ray Data pipeline of ``model.ray_engine``; -o names a folder of Parquet shards."""
    try:
        from . import ray_engine
    except ImportError as e:
        raise UsageError(f"--engine ray needs the ray extra: pip install 'entente[ray]' ({e})") from None
    if not args.output:
        raise UsageError("--engine ray writes Parquet shards: give a folder with -o DIR")
    if args.format not in (None, "parquet") or Path(args.output).suffix.lower() in (".html", ".csv", ".jsonl"):
        raise UsageError("--engine ray writes Parquet shards only: -o must name a folder")
    if "-" in args.paths:
        raise UsageError("--engine ray reads files, not standard input")
    sources, errors = collect_sources(args.paths)
    for e in errors:
        _error(e)
    try:
        summary = ray_engine.score_with_ray(
            [s.path for s in sources], args.output, manifest=args.manifest, articles=args.articles,
            timeline=args.timeline, period=args.period, passage=args.passage, checkpoint=args.checkpoint,
            batch_size=args.batch_size, address=args.address)
    except (ImportError, FileNotFoundError, ValueError) as e:
        raise UsageError(str(e)) from None
    if not args.quiet:
        print(f"entente: wrote {summary['passages']} passages of {summary['articles']} article(s) as Parquet "
              f"shards to {args.output}", file=sys.stderr)
    return 1 if errors else 0


def forward(command: str, rest: list[str]) -> int:
    """Run ``python -m MODULE`` of a forwarded command with ``rest`` (the training code is not in ``model``)."""
    module_name = FORWARDED[command][0]
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise UsageError(f"entente {command} needs the {module_name} module of a checkout ({e})") from None
    return module.main(rest)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    from .report import FORMATS

    parser = argparse.ArgumentParser(
        prog="entente",
        description="Tag passages of news about China-Russia relations with topics and stance.",
    )
    parser.add_argument("--version", action="version", version=f"entente {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    score = sub.add_parser("score", help="score articles and write annotated output")
    score.add_argument("paths", nargs="+", metavar="PATH", help="a .txt file, a folder (every .txt in it), or - for stdin")
    score.add_argument("-o", "--output", help="output file (default: JSON Lines on standard output)")
    score.add_argument("--format", choices=list(FORMATS),
                       help="output format (default: from -o's suffix, else jsonl; parquet needs pyarrow)")
    score.add_argument("--passage", choices=["sentence", "paragraph"], default="sentence", help="unit to tag (default: sentence)")
    score.add_argument("--checkpoint", help=CHECKPOINT_HELP)
    score.add_argument("--batch-size", type=int, default=64, help="passages per encoder batch (default: 64)")
    score.add_argument("--backend", choices=["torch", "onnx"], default="torch",
                       help="encoder: torch float32 (default) or the int8 ONNX export (see export-onnx)")
    score.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary line")
    score.add_argument("--manifest", action="append", metavar="FILE",
                       help="JSON Lines of article metadata (id = file name without .txt; date, title, outlet, "
                            "url); may be given several times")
    score.add_argument("--articles", metavar="FILE", help="write the article table (.csv, .jsonl or .parquet)")
    score.add_argument("--timeline", metavar="FILE", help="write the timeline (.csv, .jsonl or .parquet)")
    score.add_argument("--period", choices=["month", "quarter", "year"], default="month",
                       help="timeline period, in --timeline and the HTML report (default: month)")
    score.add_argument("--engine", choices=["local", "ray"], default="local",
                       help="local (default) or ray: a Ray Data pipeline writing Parquet shards to -o DIR "
                            "(needs the ray extra)")
    score.add_argument("--address", help="with --engine ray: the Ray cluster to join (default: start a local one)")
    score.set_defaults(func=cmd_score)

    for command, (module_name, what) in FORWARDED.items():
        # no parser of its own: every argument goes to the module (see main)
        sub.add_parser(command, help=f"{what} (python -m {module_name}; see entente {command} --help)",
                       add_help=False)

    onnx = sub.add_parser("export-onnx", help="write an int8 ONNX encoder into a checkpoint (needs the onnx extra)")
    onnx.add_argument("--checkpoint", help=CHECKPOINT_HELP)
    onnx.add_argument("--keep-float32", nargs="*", metavar="KIND", default=None,
                      help="weight kinds left in float32: query key value attention-output ffn-in ffn-out; "
                           "none given: every weight int8 (default: all int8 if that keeps 99%% of the "
                           "decisions on the corpus sentences, else value ffn-in ffn-out stay float32)")
    onnx.set_defaults(func=cmd_export_onnx)
    return parser


def cmd_export_onnx(args: argparse.Namespace) -> int:
    from .checkpoint import read_config, resolve
    from .onnx_export import export_onnx

    try:
        path = export_onnx(resolve(args.checkpoint), keep_float32=args.keep_float32)
        quantization = read_config(path.parent)["onnx"]["quantization"]
    except (ImportError, FileNotFoundError, ValueError) as e:
        raise UsageError(str(e)) from None
    agree = quantization.get("agreement", {}).get("same_topics_and_stance")
    print(f"entente: wrote {path}: int8 {' '.join(quantization['int8']) or 'none'}; "
          f"float32 {' '.join(quantization['float32']) or 'none'}"
          + (f"; same decisions as float32 on {agree:.2%} of {quantization['agreement']['n']} corpus sentences"
             if agree is not None else ""), file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="entente: warning: %(message)s", stream=sys.stderr)
    for noisy in ("transformers", "datasets", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    try:
        if args.command in FORWARDED:
            return forward(args.command, rest)
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        return args.func(args)
    except UsageError as e:
        _error(str(e))
        return 2
    except KeyboardInterrupt:
        _error("interrupted; no partial output was kept")
        return 130
    except BrokenPipeError:  # e.g. `entente score ... | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
