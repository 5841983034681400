"""Bad input and faults through the command line and the Python API (issue 12; docs/reliability.md).

Every test writes real files, runs ``entente score`` in-process and reads the output back.
"""

import csv
import json
import threading
import time

import importlib

import pytest

from model import cli, predict
from model.cli import main
from model.report import open_writer
from model.text import furniture_cuts, normalize_space

predict_module = importlib.import_module("model.predict")  # the module (``model.predict`` is the function)

ARTICLE = "Russia and China signed a gas deal on Monday.\nTheir navies held joint drills in the Pacific.\n"
SECOND = "Trade between the two countries grew by a third last year, officials in Beijing said.\n"
# A web page saved whole: the article, then the page's navigation, then another article.
PAGE = ARTICLE + "Related posts\nXi visits Moscow\nPipeline talks stall\nComments\n" + SECOND
BIDI = "\u202a\u202b\u202c\u202d\u202e\u200e\u200f\u2066\u2067\u2068\u2069\u061c"


def run(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def records(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def scores(results):
    return [v for r in results for v in (*r["topic_scores"].values(), *r["stance_scores"].values())]


def siblings(path):
    return sorted(p.name for p in path.parent.iterdir())


# -- item 2: text cut as page furniture is reported ------------------------------------------


def test_text_cut_as_furniture_is_reported_with_the_file_and_the_characters(tmp_path, tiny_checkpoint, capsys):
    page = tmp_path / "page.txt"
    page.write_text(PAGE, encoding="utf-8")
    out = tmp_path / "o.jsonl"
    code, _, err = run(["score", page, "--checkpoint", tiny_checkpoint, "-o", out], capsys)
    assert code == 0, err
    cut = sum(end - start for start, end in furniture_cuts(PAGE))
    assert cut == len("Related posts\nXi visits Moscow\nPipeline talks stall\nComments")
    assert f"{page}: {cut} characters cut as page furniture" in err
    texts = [r["text"] for r in records(out)]
    assert texts[-1] == normalize_space(SECOND)  # the second article after the furniture is scored
    code, _, err = run(["score", page, "--checkpoint", tiny_checkpoint, "-o", out, "-q"], capsys)
    assert code == 0 and err == ""


# -- item 3: CSV formula injection ----------------------------------------------------------


def test_csv_cells_that_could_start_a_formula_are_quoted(tmp_path, tiny_checkpoint, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = "=HYPERLINK(evil).txt"
    (tmp_path / name).write_text("=SUM(A1) is what Russia and China signed on Monday.\n"
                                 "-Their navies held joint drills in the Pacific.\n", encoding="utf-8")
    (tmp_path / "plain.txt").write_text(ARTICLE, encoding="utf-8")
    code, _, err = run(["score", name, "plain.txt", "--checkpoint", tiny_checkpoint, "-o", "o.csv", "-q"], capsys)
    assert code == 0, err
    rows = list(csv.DictReader((tmp_path / "o.csv").open(encoding="utf-8", newline="")))
    evil = [r for r in rows if r["source"] != "plain.txt"]
    assert {r["source"] for r in evil} == {"'" + name}
    assert [r["text"] for r in evil] == ["'=SUM(A1) is what Russia and China signed on Monday.",
                                         "'-Their navies held joint drills in the Pacific."]
    assert [r["text"] for r in rows if r["source"] == "plain.txt"] == [normalize_space(s) for s in ARTICLE.splitlines()]


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_every_formula_start_is_neutralised_and_other_text_kept(tmp_path, start):
    from tests.test_report import RESULT

    result = json.loads(json.dumps(RESULT))
    result["passages"][0]["text"] = start + "cmd|' /C calc'!A0"
    out = tmp_path / "o.csv"
    with open_writer("csv", out) as w:
        w.write_article(start + "a.txt", result)
    rows = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert rows[0]["text"] == "'" + start + "cmd|' /C calc'!A0" and rows[0]["source"] == "'" + start + "a.txt"
    assert rows[1]["text"] == RESULT["passages"][1]["text"]


# -- item 4: outputs and inputs are never destroyed -----------------------------------------


def test_a_run_that_scores_nothing_leaves_an_existing_output_untouched(tmp_path, tiny_checkpoint, capsys):
    out = tmp_path / "report.jsonl"
    out.write_text("earlier results\n")
    code, _, err = run(["score", tmp_path / "missing.txt", "--checkpoint", tiny_checkpoint, "-o", out], capsys)
    assert code == 1 and "missing.txt: no such file" in err and "was not written" in err
    assert out.read_text() == "earlier results\n" and siblings(out) == ["report.jsonl"]
    (tmp_path / "empty.txt").write_text(" \n")
    code, _, err = run(["score", tmp_path / "empty.txt", "--checkpoint", tiny_checkpoint, "-o", out, "-q"], capsys)
    assert code == 1 and out.read_text() == "earlier results\n"
    fresh = tmp_path / "fresh.html"
    code, _, _ = run(["score", tmp_path / "missing.txt", "--checkpoint", tiny_checkpoint, "-o", fresh], capsys)
    assert code == 1 and not fresh.exists()


def test_an_output_that_is_also_an_input_is_a_usage_error(tmp_path, tiny_checkpoint, capsys):
    article = tmp_path / "in" / "article.txt"
    article.parent.mkdir()
    article.write_text(ARTICLE)
    (tmp_path / "link.txt").symlink_to(article)
    for output in (article, tmp_path / "in" / ".." / "in" / "article.txt", tmp_path / "link.txt"):
        code, _, err = run(["score", article, "--checkpoint", tiny_checkpoint, "-o", output], capsys)
        assert code == 2 and "is also an input" in err and len(err.strip().splitlines()) == 1
    # a folder input: its .txt files are inputs too
    code, _, err = run(["score", article.parent, "--checkpoint", tiny_checkpoint, "-o", article], capsys)
    assert code == 2 and "is also an input" in err
    assert article.read_text() == ARTICLE and siblings(article) == ["article.txt"]


# -- item 7: wrong Python types and empty passages ------------------------------------------


@pytest.mark.parametrize("bad", [None, 123, 4.5, b"Russia and China", bytearray(b"gas"), {"Russia": 1},
                                 {"Russia and China"}, ["fine", 7], ("fine", None)])
def test_predict_refuses_what_is_not_text_with_one_clear_type_error(bad):
    with pytest.raises(TypeError, match=r"^predict\(\) takes a string or a list of strings, got "):
        predict(bad, checkpoint="no-such-checkpoint")  # refused before any checkpoint is read


def test_a_bad_item_is_named_by_its_position():
    with pytest.raises(TypeError, match="item of type int at position 1"):
        predict(["fine", 7])


@pytest.mark.parametrize("texts, where", [("", "the passage"), ("  \n\t", "the passage"), (["Gas deal.", ""], "passage 1"),
                                          (["Gas deal.", "ok", " \u202e "], "passage 2")])
def test_an_empty_passage_is_a_value_error_naming_its_position(texts, where):
    with pytest.raises(ValueError, match=f"^{where} is empty or only whitespace"):
        predict(texts, checkpoint="no-such-checkpoint")


def test_a_lone_surrogate_is_a_value_error_not_a_tokenizer_crash():
    with pytest.raises(ValueError, match=r"passage 1 is not valid Unicode text \(a lone surrogate U\+D800"):
        predict(["Gas deal.", "Russia \ud800 China"])


def test_any_ordered_collection_of_strings_is_taken_in_order(tiny_checkpoint):
    texts = ["Joint naval drills were held.", "A gas pipeline deal was signed."]
    expected = [r["stance_scores"] for r in predict(texts, checkpoint=tiny_checkpoint)]
    for given in (tuple(texts), iter(texts), (t for t in texts)):
        assert [r["stance_scores"] for r in predict(given, checkpoint=tiny_checkpoint)] == expected
    with pytest.raises(ValueError, match="batch_size must be an integer"):
        predict(texts, checkpoint=tiny_checkpoint, batch_size=2.5)


def test_predict_from_threads_gives_the_same_results(tiny_checkpoint):
    texts = [f"Russia and China held talk number {i} on gas and Taiwan." for i in range(24)]
    expected = predict(texts, checkpoint=tiny_checkpoint, batch_size=8)
    got, errors = {}, []

    def work(k):
        try:
            got[k] = predict(texts, checkpoint=tiny_checkpoint, batch_size=8)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(got) == 4
    for result in got.values():
        assert [r["topics"] for r in result] == [r["topics"] for r in expected]
        assert scores(result) == pytest.approx(scores(expected))


def test_concurrent_writers_to_one_output_leave_one_whole_file(tmp_path):
    from tests.test_report import RESULT

    out = tmp_path / "o.jsonl"
    barrier = threading.Barrier(2)

    def write(name):
        with open_writer("jsonl", out) as w:
            for _ in range(50):
                w.write_article(name, RESULT)
            barrier.wait()

    threads = [threading.Thread(target=write, args=(name,)) for name in ("a.txt", "b.txt")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sources = {r["source"] for r in records(out)}
    assert len(records(out)) == 100 and len(sources) == 1  # one writer's whole output, never a mix
    assert siblings(out) == ["o.jsonl"]


# -- item 8: bidirectional controls in the HTML report --------------------------------------


def test_bidi_controls_are_not_shown_in_the_html_report(tmp_path, tiny_checkpoint, capsys):
    name = tmp_path / "news\u202etxt.exe.txt"
    name.write_text("\u202eRussia and China signed a gas deal on Monday.\u200f Their navies held joint drills.\n",
                    encoding="utf-8")
    out = tmp_path / "o.html"
    code, _, err = run(["score", name, "--checkpoint", tiny_checkpoint, "-o", out], capsys)
    assert code == 0, err
    page = out.read_text(encoding="utf-8")
    assert not set(BIDI) & set(page)
    assert "<bdi>" in page and "news" in page and "txt.exe.txt" in page
    assert "Russia and China signed a gas deal on Monday.</span>" in page.replace('<span class="tag">', "</span>")
    assert "Their navies held joint drills." in page


# -- item 9: warnings name the file; .TXT; offsets after a BOM and with CRLF ----------------


def test_truncation_warnings_name_the_file_and_obey_quiet(tmp_path, tiny_checkpoint, capsys):
    long = tmp_path / "long.txt"
    long.write_text("Russia and China agreed to cooperate on gas, " * 80 + "and trade.\n")
    code, _, err = run(["score", long, "--checkpoint", tiny_checkpoint], capsys)
    assert code == 0
    assert f"entente: warning: {long}: 1 passage(s) longer than 256 tokens were truncated" in err
    code, out, err = run(["score", long, "--checkpoint", tiny_checkpoint, "-q"], capsys)
    assert code == 0 and err == "" and len(out.splitlines()) == 1


def test_upper_case_txt_files_are_read_like_txt(tmp_path, tiny_checkpoint, capsys):
    (tmp_path / "A.TXT").write_text(ARTICLE)
    (tmp_path / "b.Txt").write_text(SECOND)
    (tmp_path / "c.md").write_text(SECOND)
    code, out, err = run(["score", tmp_path, "--checkpoint", tiny_checkpoint, "-q"], capsys)
    assert code == 0, err
    assert {json.loads(line)["source"] for line in out.splitlines()} == {str(tmp_path / "A.TXT"), str(tmp_path / "b.Txt")}


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_offsets_index_the_decoded_text_of_crlf_files_with_a_byte_order_mark(tmp_path, tiny_checkpoint, capsys,
                                                                              encoding):
    article = tmp_path / "crlf.txt"
    text = "MOSCOW --- Russia and China signed a gas deal.\r\nTheir navies held joint drills.\r\n\r\nTrade grew.\r\n"
    article.write_bytes(text.encode(encoding))
    out = tmp_path / "o.jsonl"
    code, _, err = run(["score", article, "--checkpoint", tiny_checkpoint, "-o", out], capsys)
    assert code == 0, err
    recs = records(out)
    assert [r["text"] for r in recs] == ["Russia and China signed a gas deal.", "Their navies held joint drills.",
                                         "Trade grew."]
    assert [r["start"] for r in recs] == [11, 48, 83]  # CRLF counts two characters; the BOM none
    for r in recs:
        assert text[r["start"] : r["end"]] == r["text"]


def test_invalid_utf8_after_a_bom_keeps_offsets_into_the_text_without_it(tmp_path, tiny_checkpoint, capsys):
    article = tmp_path / "mixed.txt"
    article.write_bytes(b"\xef\xbb\xbfRussia and China signed a gas deal in S\xe3o Paulo.\n")
    out = tmp_path / "o.jsonl"
    code, _, err = run(["score", article, "--checkpoint", tiny_checkpoint, "-o", out], capsys)
    assert code == 0 and "not valid UTF-8" in err
    rec = records(out)[0]
    assert rec["start"] == 0 and rec["text"].startswith("Russia")


# -- beyond the list: progress on a long input ----------------------------------------------


def test_a_slow_input_shows_progress_unless_quiet(tmp_path, tiny_checkpoint, capsys, monkeypatch):
    article = tmp_path / "long.txt"
    article.write_text("".join(f"Russia and China held round {i} of the gas talks.\n" for i in range(40)))
    split = predict_module.split_passages

    def slow_split(*args):
        time.sleep(0.3)
        return split(*args)

    monkeypatch.setattr(predict_module, "split_passages", slow_split)
    monkeypatch.setattr(cli, "PROGRESS_AFTER_S", 0.1)
    monkeypatch.setattr(predict_module, "PROGRESS_BATCHES", 1)
    code, _, err = run(["score", article, "--checkpoint", tiny_checkpoint, "--batch-size", "8", "-o",
                        tmp_path / "o.jsonl"], capsys)
    assert code == 0
    assert f"entente: {article}: splitting {article.stat().st_size:,} characters into passages" in err
    assert f"{article}:" in err and "/40" in err and "passage" in err  # the bar: scored / total
    code, _, err = run(["score", article, "--checkpoint", tiny_checkpoint, "--batch-size", "8", "-q", "-o",
                        tmp_path / "o.jsonl"], capsys)
    assert code == 0 and err == ""


def test_score_article_reports_progress_by_chunks_with_unchanged_results(tiny_checkpoint, monkeypatch):
    from model import score_article

    text = "".join(f"Russia and China held round {i} of the gas talks.\n" for i in range(10))
    whole = score_article(text, checkpoint=tiny_checkpoint, batch_size=4)
    monkeypatch.setattr(predict_module, "PROGRESS_BATCHES", 1)
    calls = []
    chunked = score_article(text, checkpoint=tiny_checkpoint, batch_size=4, progress=lambda *a: calls.append(a))
    assert calls == [(0, 10), (4, 10), (8, 10), (10, 10)]
    assert [p["topics"] for p in chunked["passages"]] == [p["topics"] for p in whole["passages"]]
    assert scores(chunked["passages"]) == pytest.approx(scores(whole["passages"]))


# -- more bad input: unreadable, large, foreign, looping, misused --------------------------


def test_an_unreadable_file_is_one_error_line_and_the_rest_is_scored(tmp_path, tiny_checkpoint, capsys, monkeypatch):
    from pathlib import Path

    (tmp_path / "locked.txt").write_text(ARTICLE)
    (tmp_path / "open.txt").write_text(ARTICLE)
    read_bytes = Path.read_bytes

    def denied(self):  # chmod 000 does not stop root, so refuse the read the way the OS would
        if self.name == "locked.txt":
            raise PermissionError(13, "Permission denied", str(self))
        return read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    code, out, err = run(["score", tmp_path, "--checkpoint", tiny_checkpoint, "-q"], capsys)
    assert code == 1 and err.strip() == f"entente: error: {tmp_path / 'locked.txt'}: permission denied"
    assert {json.loads(line)["source"] for line in out.splitlines()} == {str(tmp_path / "open.txt")}


def test_large_file_and_nothing_to_score_warnings_name_the_file_and_obey_quiet(tmp_path, tiny_checkpoint, capsys,
                                                                                monkeypatch):
    monkeypatch.setattr(cli, "LARGE_FILE_BYTES", 50)
    big, foreign = tmp_path / "big.txt", tmp_path / "foreign.txt"
    big.write_text(ARTICLE)
    foreign.write_text("Путин и Си Цзиньпин подписали соглашение о газе.\n", encoding="utf-8")
    code, _, err = run(["score", big, foreign, "--checkpoint", tiny_checkpoint], capsys)
    assert code == 0
    assert f"{big}: large file" in err and f"{foreign}: no sentence to score" in err
    code, _, err = run(["score", big, foreign, "--checkpoint", tiny_checkpoint, "-q"], capsys)
    assert code == 0 and err == ""


def test_a_folder_with_a_symlink_loop_is_walked_once(tmp_path, tiny_checkpoint, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_text(ARTICLE)
    (tmp_path / "a" / "up").symlink_to(tmp_path)
    code, out, err = run(["score", tmp_path, "--checkpoint", tiny_checkpoint, "-q"], capsys)
    assert code == 0 and {json.loads(line)["source"] for line in out.splitlines()} == {str(tmp_path / "a" / "x.txt")}


def test_misused_inputs_and_outputs_are_usage_errors(tmp_path, tiny_checkpoint, capsys):
    (tmp_path / "a.txt").write_text(ARTICLE)
    code, _, err = run(["score", "-", "-", "--checkpoint", tiny_checkpoint], capsys)
    assert code == 2 and "standard input ('-') can be given only once" in err
    code, _, err = run(["score", tmp_path / "a.txt", "--checkpoint", tiny_checkpoint, "-o", tmp_path], capsys)
    assert code == 2 and "is a folder" in err
    code, _, err = run(["score", tmp_path / "a.txt", "--checkpoint", tiny_checkpoint, "--batch-size", "0"], capsys)
    assert code == 2 and "--batch-size must be at least 1" in err
