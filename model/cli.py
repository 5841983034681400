"""``entente``: score articles and export the ONNX encoder from the command line.

A thin layer over ``model.predict``, ``model.report`` and ``model.onnx_export``. Exit
status: 0 on success, 1 when some inputs failed (the others are still scored and
written), 2 on a usage error (an invalid checkpoint, or an output that is also an input,
included), 130 on Ctrl-C and 128 + the signal's number on SIGTERM or SIGHUP. Errors a
user can cause are one line on standard error; so is every warning, and each names the
input it is about (``-q`` silences warnings and progress, never errors).

What ``score`` promises about its output (see ``docs/reliability.md``): the output file
is replaced only by a complete one, written beside it and renamed into place; a run
that scored no input at all, was interrupted or was terminated leaves an existing output
as it was and no temporary file behind. Text cut as page furniture is never dropped
silently: standard error says how many characters of which file were cut.

Input files are read as UTF-8 (a byte-order mark is removed; UTF-16 with a byte-order
mark is read too), and the ``start`` and ``end`` offsets of each passage index that
decoded text: line ends count as they are in the file (CRLF is two characters).

``entente train`` and ``entente evaluate`` are a lazy dispatch, by module name, to
``python -m training.train`` and ``python -m training.evaluate``: every argument after
the command (``--help`` included) goes to that module. Nothing in ``model`` imports
``training``; only these two commands load it, and only when they run.
"""

from __future__ import annotations

import argparse
import codecs
import importlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

LARGE_FILE_BYTES = 5 * 1024 * 1024
# One input that has taken this long shows what is going on (splitting, then a progress bar).
PROGRESS_AFTER_S = 3.0
# Signals that end a run like Ctrl-C does: output dropped, temporary files removed.
TERMINATING_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))
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


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: unwinds like ``KeyboardInterrupt``, so partial output is dropped."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@dataclass
class Source:
    name: str  # as shown in output records
    path: Path | None  # None: standard input


def _warn(msg: str) -> None:
    print(f"entente: warning: {msg}", file=sys.stderr)


def _error(msg: str) -> None:
    print(f"entente: error: {msg}", file=sys.stderr)


def _silent(msg: str) -> None:
    """A warning under ``-q``."""


def is_text_file(path: Path) -> bool:
    """A file a folder input contributes: suffix ``.txt`` in any case (``.TXT`` too)."""
    return path.suffix.lower() == ".txt" and path.is_file()


def collect_sources(paths: list[str]) -> tuple[list[Source], list[str]]:
    """Expand files, folders (every ``.txt`` or ``.TXT``, recursively) and ``-``; return sources and errors."""
    sources, errors = [], []
    for p in paths:
        if p == "-":
            sources.append(Source("<stdin>", None))
            continue
        path = Path(p)
        if path.is_dir():
            found = sorted(f for f in path.rglob("*") if is_text_file(f))
            if not found:
                errors.append(f"{p}: folder contains no .txt file")
            sources.extend(Source(str(f), f) for f in found)
        elif path.exists():
            sources.append(Source(str(path), path))
        else:
            errors.append(f"{p}: no such file or folder")
    return sources, errors


def check_output(output: str | None, sources: list[Source]) -> None:
    """Refuse an output file that is one of the inputs (scoring would overwrite the article)."""
    if not output:
        return
    out = Path(output)
    for src in sources:
        if src.path is None:
            continue
        try:
            same = out.resolve() == src.path.resolve() or (out.exists() and os.path.samefile(out, src.path))
        except OSError:
            same = False
        if same:
            raise UsageError(f"output {output} is also an input ({src.name}); choose another output file")


def decode(data: bytes, name: str, warn: Callable[[str], None] = _warn) -> str:
    """The text of an input file's bytes: UTF-8 (a byte-order mark removed) or UTF-16/32 with one.

    Undecodable UTF-8 is replaced with U+FFFD, with a warning; passages' offsets index the
    text returned here."""
    for bom, codec in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                       (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError as e:
                raise InputError(f"{name}: starts like {codec.upper()} but is not valid {codec.upper()} "
                                 f"(byte {e.start})") from None
    if b"\x00" in data[:65536]:
        raise InputError(f"{name}: looks like a binary file (NUL bytes), not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        warn(f"{name}: not valid UTF-8 (byte {e.start}); undecodable bytes replaced with U+FFFD")
        return data.decode("utf-8-sig", errors="replace")


def read_source(src: Source, warn: Callable[[str], None] = _warn) -> str:
    """Read one input as text, refusing what cannot be an article; raise ``InputError``."""
    try:
        data = sys.stdin.buffer.read() if src.path is None else src.path.read_bytes()
    except PermissionError:
        raise InputError(f"{src.name}: permission denied") from None
    except IsADirectoryError:
        raise InputError(f"{src.name}: is a folder") from None
    except OSError as e:
        raise InputError(f"{src.name}: cannot read ({e.strerror or e})") from None
    text = decode(data, src.name, warn)
    if "\x00" in text:
        raise InputError(f"{src.name}: looks like a binary file (NUL characters), not text")
    if len(data) > LARGE_FILE_BYTES:
        warn(f"{src.name}: large file ({len(data) / 2**20:.1f} MiB); scoring it may take a while")
    if not text.strip():
        raise InputError(f"{src.name}: empty file, nothing to score")
    return text


def report_cuts(name: str, text: str, warn: Callable[[str], None]) -> None:
    """Say how much of ``text`` the splitter cut as end-of-page furniture, if any (never silently)."""
    from .text import furniture_cuts

    cuts = furniture_cuts(text)
    if cuts:
        chars = sum(end - start for start, end in cuts)
        first = " ".join(text[cuts[0][0] : cuts[0][1]].split()[:3])
        warn(f"{name}: {chars} characters cut as page furniture in {len(cuts)} place(s) "
             f"(from '{first}' at character {cuts[0][0]}); they are not scored")


@contextmanager
def warnings_named(name: str, warn: Callable[[str], None]) -> Iterator[None]:
    """Route the package's logged warnings (e.g. passages truncated) while one input is scored
    to ``warn``, each prefixed with the input's name."""

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            warn(f"{name}: {record.getMessage()}")

    logger, handler = logging.getLogger(__package__ or "model"), Handler(logging.WARNING)
    propagate, logger.propagate = logger.propagate, False
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


class ArticleProgress:
    """Progress of one input, shown only once it has taken ``PROGRESS_AFTER_S`` seconds:
    a line while it is split, then a bar of passages scored (``score_article``'s ``progress``)."""

    def __init__(self, name: str, n_chars: int, enabled: bool = True):
        self.name, self.n_chars, self.enabled = name, n_chars, enabled
        self.started = time.monotonic()
        self.bar = None
        self.timer = threading.Timer(PROGRESS_AFTER_S, self._splitting) if enabled else None
        if self.timer is not None:
            self.timer.daemon = True
            self.timer.start()

    def _splitting(self) -> None:
        print(f"entente: {self.name}: splitting {self.n_chars:,} characters into passages ...",
              file=sys.stderr, flush=True)

    def __call__(self, scored: int, total: int) -> None:
        if not self.enabled:
            return
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.bar is None:
            from tqdm.auto import tqdm

            waited = time.monotonic() - self.started
            self.bar = tqdm(total=total, desc=self.name, unit="passage", file=sys.stderr, leave=False,
                            delay=max(PROGRESS_AFTER_S - waited, 0))
        self.bar.update(scored - self.bar.n)

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if self.bar is not None:
            self.bar.close()


def cmd_score(args: argparse.Namespace) -> int:
    from .report import format_for, open_writer

    fmt = format_for(args.output, args.format)
    warn = _silent if args.quiet else _warn
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
    check_output(args.output, sources)
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

    failed = len(errors)
    scored = 0
    progress = None
    if len(sources) > 1 and not args.quiet:
        from tqdm.auto import tqdm

        progress = tqdm(total=len(sources), desc="scoring", unit="file", file=sys.stderr)
    options = {"period": args.period, "run": archive.run_info(args.checkpoint, args.passage, args.backend)}
    with (open_writer(fmt, args.output, **(options if fmt == "html" else {})) as writer,
          archive.ArchiveTables(args.articles, args.timeline, args.period) as tables):
        for item in _scored_inputs(args, sources, manifest, warn):
            if item.error is not None:
                _error(item.error)
                failed += 1
            else:
                if not item.result["passages"]:
                    warn(f"{item.source}: no sentence to score (only headings or page furniture)")
                writer.write_article(item.source, item.result)
                tables.add(item.source, item.result)
                scored += 1
            if progress is not None:
                progress.update(1)
        if not scored and args.output:
            writer.abort()  # nothing scored: an existing output stays as it was
            tables.abort()
    if progress is not None:
        progress.close()
    if tables.left_out_note:
        warn(tables.left_out_note)
    if args.output and not scored:
        _error(f"no input was scored; {args.output} was not written"
               + (" (the existing file is unchanged)" if Path(args.output).exists() else ""))
    elif args.output and not args.quiet:
        print(f"entente: wrote {fmt} for {scored} input(s) to {args.output}", file=sys.stderr)
    return 1 if failed else 0


def _scored_inputs(args: argparse.Namespace, sources: list[Source], manifest, warn: Callable[[str], None]):
    """Every input scored, in order, as ``model.archive.ScoredArticle``.

    Many inputs go through the archive pipeline (files read and split ahead, passages
    batched across files). A single input is scored on its own, so that a large file
    shows progress while it is split and scored (``ArticleProgress``).
    """
    from . import archive
    from .predict import score_article

    def read(article: archive.ArticleInput) -> str:
        text = read_source(Source(article.source, article.path), warn)
        report_cuts(article.source, text, warn)
        return text

    inputs = [archive.ArticleInput(s.name, path=s.path, meta=archive.manifest_meta(s.name, manifest))
              for s in sources]
    if len(inputs) != 1:
        yield from archive.iter_scored(inputs, passage=args.passage, checkpoint=args.checkpoint,
                                       batch_size=args.batch_size, backend=args.backend, read=read,
                                       read_errors=(InputError,))
        return
    article = inputs[0]
    try:
        text = read(article)
    except InputError as e:
        yield archive.ScoredArticle(article.source, article.meta, error=str(e))
        return
    article_progress = ArticleProgress(article.source, len(text), enabled=not args.quiet)
    try:
        with warnings_named(article.source, warn):
            result = score_article(text, args.passage, checkpoint=args.checkpoint, batch_size=args.batch_size,
                                   backend=args.backend, progress=article_progress)
    finally:
        article_progress.close()
    result["paragraph_of"] = archive.paragraph_numbers(text, args.passage)
    if article.meta is not None:
        result["meta"] = article.meta
    yield archive.ScoredArticle(article.source, article.meta, result=result)


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
    score.add_argument("-q", "--quiet", action="store_true",
                       help="no progress, summary line or warnings (errors are still shown)")
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
    from .checkpoint import read_onnx_record, resolve
    from .onnx_export import export_onnx

    try:
        path = export_onnx(resolve(args.checkpoint), keep_float32=args.keep_float32)
        quantization = read_onnx_record(path.parent)["quantization"]
    except (ImportError, FileNotFoundError, ValueError) as e:
        raise UsageError(str(e)) from None
    agree = quantization.get("agreement", {}).get("same_topics_and_stance")
    print(f"entente: wrote {path}: int8 {' '.join(quantization['int8']) or 'none'}; "
          f"float32 {' '.join(quantization['float32']) or 'none'}"
          + (f"; same decisions as float32 on {agree:.2%} of {quantization['agreement']['n']} corpus sentences"
             if agree is not None else ""), file=sys.stderr)
    return 0


@contextmanager
def terminating_signals_raise() -> Iterator[None]:
    """While the command runs, SIGTERM and SIGHUP raise ``Terminated``, so they unwind like
    Ctrl-C: writers drop their temporary files and an existing output is left as it was.
    (Only the main thread can set signal handlers; elsewhere nothing changes.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated(signum)

    previous = {sig: signal.signal(sig, handler) for sig in TERMINATING_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="entente: warning: %(message)s", stream=sys.stderr)
    for noisy in ("transformers", "datasets", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    try:
        with terminating_signals_raise():
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
    except Terminated as e:
        _error(f"terminated by {signal.Signals(e.signum).name}; no partial output was kept")
        return 128 + e.signum
    except BrokenPipeError:  # e.g. `entente score ... | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
