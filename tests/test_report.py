"""Writers: files written atomically, read back, with text escaped in HTML."""

import csv
import json

import pytest

from model.report import CSV_COLUMNS, format_for, open_writer

RESULT = {
    "passages": [
        {"index": 0, "start": 0, "end": 20, "text": "Putin <script>alert(1)</script> met Xi.", "topics": ["security"],
         "topic_scores": {"security": 0.9, "energy": 0.1, "taiwan": 0.0, "ukraine": 0.2}, "stance": "cooperative",
         "stance_scores": {"cooperative": 0.7, "friction": 0.2, "neutral": 0.1}},
        {"index": 1, "start": 21, "end": 40, "text": "Gas, \"quoted\", and commas.", "topics": [],
         "topic_scores": {"security": 0.1, "energy": 0.4, "taiwan": 0.0, "ukraine": 0.0}, "stance": "neutral",
         "stance_scores": {"cooperative": 0.2, "friction": 0.1, "neutral": 0.7}},
    ],
    "summary": {"n_passages": 2, "topic_share": {"security": 0.5, "energy": 0.0, "taiwan": 0.0, "ukraine": 0.0},
                "stance_counts": {"cooperative": 1, "friction": 0, "neutral": 1}, "cooperation_index": 0.4},
}


def test_jsonl_round_trip(tmp_path):
    out = tmp_path / "o.jsonl"
    with open_writer("jsonl", out) as w:
        w.write_article("a.txt", RESULT)
        w.write_article("b.txt", RESULT)
    recs = [json.loads(l) for l in out.read_text().splitlines()]
    assert len(recs) == 4 and [r["source"] for r in recs] == ["a.txt", "a.txt", "b.txt", "b.txt"]
    assert recs[1]["text"] == RESULT["passages"][1]["text"]


def test_csv_round_trip(tmp_path):
    out = tmp_path / "o.csv"
    with open_writer("csv", out) as w:
        w.write_article("a.txt", RESULT)
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == CSV_COLUMNS
    assert rows[1]["text"] == 'Gas, "quoted", and commas.' and rows[0]["topics"] == "security"
    assert float(rows[0]["p_cooperative"]) == pytest.approx(0.7)


def test_html_escapes_text_and_is_self_contained(tmp_path):
    out = tmp_path / "o.html"
    with open_writer("html", out) as w:
        w.write_article("<b>a.txt</b>", RESULT)
    page = out.read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "&lt;b&gt;a.txt&lt;/b&gt;" in page
    assert "<svg" in page and "legend" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in page


def test_interrupted_write_leaves_no_file(tmp_path):
    out = tmp_path / "o.jsonl"
    with pytest.raises(KeyboardInterrupt):
        with open_writer("jsonl", out) as w:
            w.write_article("a.txt", RESULT)
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_existing_file_is_replaced_only_on_success(tmp_path):
    out = tmp_path / "o.jsonl"
    out.write_text("old\n")
    with pytest.raises(RuntimeError):
        with open_writer("jsonl", out) as w:
            w.write_article("a.txt", RESULT)
            raise RuntimeError("boom")
    assert out.read_text() == "old\n"


def test_format_for():
    assert format_for("x.csv", None) == "csv" and format_for("x.HTML", None) == "html"
    assert format_for("x.out", None) == "jsonl" and format_for(None, None) == "jsonl"
    assert format_for("x.csv", "jsonl") == "jsonl"
