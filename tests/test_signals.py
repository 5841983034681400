"""Signals and closed pipes, on a real ``entente`` process.

SIGTERM (what ``kill``, ``timeout`` and container stops send) and SIGHUP must end a run
the way Ctrl-C does: no temporary file beside the output, an existing output unchanged,
one line on standard error, exit status 128 + the signal's number.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SENTENCES = "".join(f"Russia and China held round {i} of their talks on gas, arms and Taiwan.\n" for i in range(60))


def entente(*args, **kwargs):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "model.cli", *map(str, args)], cwd=ROOT, env=env,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def wait_for_temporary_file(folder, proc, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if [p for p in folder.iterdir() if p.name.endswith(".tmp")]:
            return
        if proc.poll() is not None:
            pytest.fail(f"entente ended before writing: {proc.stderr.read()}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail("no temporary output file appeared")


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 128 + signal.SIGTERM)])
def test_a_signal_mid_run_leaves_no_temporary_file_and_the_old_output(signum, status, tiny_checkpoint, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(400):
        (inputs / f"{i:03}.txt").write_text(SENTENCES)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "report.csv"
    out.write_text("earlier results\n")
    proc = entente("score", inputs, "--checkpoint", tiny_checkpoint, "-o", out, "-q", "--batch-size", "16",
                   stdout=subprocess.DEVNULL)
    wait_for_temporary_file(out_dir, proc)
    proc.send_signal(signum)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == status, err
    assert sorted(p.name for p in out_dir.iterdir()) == ["report.csv"]
    assert out.read_text() == "earlier results\n"
    assert "Traceback" not in err and err.strip().splitlines() == [
        "entente: error: interrupted; no partial output was kept" if signum == signal.SIGINT
        else "entente: error: terminated by SIGTERM; no partial output was kept"]


def test_a_closed_pipe_on_standard_output_ends_quietly(tiny_checkpoint, tmp_path):
    for i in range(4):  # about 130 KB of JSON Lines: more than a pipe holds
        (tmp_path / f"{i}.txt").write_text(SENTENCES)
    proc = entente("score", tmp_path, "--checkpoint", tiny_checkpoint, "-q", stdout=subprocess.PIPE)
    proc.stdout.readline()  # like `| head -1`: read a little, then close the pipe
    proc.stdout.close()
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == 0 and "Traceback" not in err and err == ""
