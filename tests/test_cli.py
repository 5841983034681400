"""The `entente` command: exit codes, one-line errors, nothing lost on bad input."""

import csv
import json
import subprocess
import sys

import pytest

from model.cli import main

GOOD = "MOSCOW --- Russia and China signed a gas deal. Their navies held joint drills.\n"


def run(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def inputs(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "good.txt").write_text(GOOD)
    (tmp_path / "in" / "sub").mkdir()
    (tmp_path / "in" / "sub" / "second.txt").write_text("Taiwan is part of China, Moscow said.\n")
    (tmp_path / "in" / "notes.md").write_text("not an article")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "empty.txt").write_text("  \n")
    (tmp_path / "bad" / "binary.txt").write_bytes(b"\x00\x01\x02gas")
    (tmp_path / "latin1.txt").write_bytes("Russia and China signed a gas deal in S\xe3o Paulo.".encode("latin-1"))
    (tmp_path / "nodocs").mkdir()
    return tmp_path


def test_score_folder_recursively_to_jsonl_stdout(inputs, tiny_checkpoint, capsys):
    code, out, err = run(["score", inputs / "in", "--checkpoint", tiny_checkpoint, "-q"], capsys)
    assert code == 0, err
    recs = [json.loads(l) for l in out.splitlines()]
    assert {r["source"] for r in recs} == {str(inputs / "in" / "good.txt"), str(inputs / "in" / "sub" / "second.txt")}
    assert recs[0]["text"] == "Russia and China signed a gas deal."


def test_bad_inputs_fail_alone_and_the_rest_is_written(inputs, tiny_checkpoint, capsys):
    out_file = inputs / "report.csv"
    code, out, err = run(["score", inputs / "in" / "good.txt", inputs / "bad", inputs / "latin1.txt",
                          inputs / "missing.txt", inputs / "nodocs", "--checkpoint", tiny_checkpoint,
                          "-o", out_file], capsys)
    assert code == 1
    assert "empty.txt: empty file" in err and "binary.txt: looks like a binary file" in err
    assert "missing.txt: no such file" in err and "nodocs: folder contains no .txt" in err
    assert "latin1.txt: not valid UTF-8" in err and "Traceback" not in err
    rows = list(csv.DictReader(out_file.open()))
    assert {r["source"] for r in rows} == {str(inputs / "in" / "good.txt"), str(inputs / "latin1.txt")}
    assert any("\ufffd" in r["text"] for r in rows)


def test_usage_errors_exit_2_with_one_line(inputs, tiny_checkpoint, capsys):
    code, _, err = run(["score", inputs / "in", "--checkpoint", tiny_checkpoint, "-o", inputs / "no" / "x.jsonl"], capsys)
    assert code == 2 and "does not exist" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(["score", inputs / "in", "--checkpoint", inputs / "nodocs"], capsys)
    assert code == 2 and "no checkpoint" in err
    with pytest.raises(SystemExit) as e:
        main(["score"])
    assert e.value.code == 2


def test_html_and_paragraphs(inputs, tiny_checkpoint, capsys):
    out_file = inputs / "r.html"
    code, _, err = run(["score", inputs / "in", "--passage", "paragraph", "--checkpoint", tiny_checkpoint,
                        "-o", out_file], capsys)
    assert code == 0, err
    page = out_file.read_text()
    assert "Russia and China signed a gas deal. Their navies held joint drills." in page


def test_stdin_and_console_script(tiny_checkpoint):
    proc = subprocess.run([sys.executable, "-m", "model.cli", "score", "-", "--checkpoint", str(tiny_checkpoint),
                           "--format", "jsonl"], input=GOOD, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    recs = [json.loads(l) for l in proc.stdout.splitlines()]
    assert [r["source"] for r in recs] == ["<stdin>", "<stdin>"]
