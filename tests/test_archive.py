"""Scoring an archive: manifests, cross-file batching, the article table, the timeline, every output read back."""

import csv
import json
import logging

import pytest

from model import score_article
from model.archive import (ARTICLE_COLUMNS, TIMELINE_COLUMNS, ArticleInput, bootstrap_interval, iter_scored,
                           parse_date, period_of, read_manifests, score_articles, timeline)
from model.cli import main

ARTICLES = {
    "x001": "MOSCOW --- Russia and China signed a gas deal. Their navies held joint drills.\n\n"
            "Beijing said the pipeline would open next year.\n",
    "x002": "Taiwan is part of China, Moscow said. Kyiv protested the visit.\n",
    "x003": "Xi and Putin met in Samarkand. They disagreed over Central Asia.\n\nTrade grew by a third.\n",
    "x004": "China bought more Russian oil. Sanctions did not stop the trade.\n",
    "x005": "Putin praised the friendship. The summit ended with a joint statement.\n",
}
MANIFEST = [
    {"id": "x001", "date": "2022-03-04", "title": "Gas deal", "outlet": "wire", "url": "https://example.org/1"},
    {"id": "x002", "date": "2022-03", "title": "Taiwan"},
    {"id": "x003", "date": "2022", "title": "Samarkand"},
    {"id": "x004", "date": "2022-13-40", "title": "Bad date"},
    {"id": "nobody", "date": "2020-01-01"},
]  # x005 is not in the manifest


@pytest.fixture
def archive_dir(tmp_path):
    folder = tmp_path / "archive"
    folder.mkdir()
    for ident, text in ARTICLES.items():
        (folder / f"{ident}.txt").write_text(text)
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("\n".join(json.dumps(r) for r in MANIFEST) + "\nnot json\n")
    return folder, manifest


def test_dates_and_periods():
    assert parse_date("2022") == (2022, None, None) and parse_date("2022-03-04") == (2022, 3, 4)
    assert parse_date(None) is None
    for bad in ("2022-13", "2021-02-30", "15/03/2014", "2022-3"):
        with pytest.raises(ValueError):
            parse_date(bad)
    assert period_of("2022-05-31", "month") == ("2022-05", "2022-05-01")
    assert period_of("2022-05", "quarter") == ("2022-Q2", "2022-04-01")
    assert period_of("2022", "year") == ("2022", "2022-01-01")
    assert period_of("2022", "month") is None and period_of(None, "year") is None


def test_manifest_warns_on_bad_dates_and_lines(archive_dir, caplog):
    _, manifest = archive_dir
    with caplog.at_level(logging.WARNING):
        by_id = read_manifests([manifest])
    assert by_id["x004"]["date"] is None and by_id["x004"]["title"] == "Bad date"
    assert by_id["x001"] == {"id": "x001", "date": "2022-03-04", "title": "Gas deal", "outlet": "wire",
                             "url": "https://example.org/1"}
    assert "x004" in caplog.text and "not JSON" in caplog.text
    assert read_manifests([_write(manifest.parent / "y.jsonl", {"id": "y", "year": 2015})])["y"]["date"] == "2015"


def _write(path, record):
    path.write_text(json.dumps(record) + "\n")
    return path


def test_bootstrap_interval_is_fixed_and_brackets_the_mean():
    values = [0.1, 0.5, -0.2, 0.9, 0.3, 0.0]
    low, high = bootstrap_interval(values)
    assert (low, high) == bootstrap_interval(values)
    assert low < sum(values) / len(values) < high
    assert bootstrap_interval([0.4]) == (0.4, 0.4)


def test_timeline_counts_year_only_dates_in_years_only():
    rows = [{"date": d, "n_passages": 2, "share_security": 0.5, "share_energy": 0.0, "share_taiwan": 0.0,
             "share_ukraine": 1.0, "n_cooperative": 1, "n_friction": 1, "n_neutral": 0, "cooperation_index": ci}
            for d, ci in (("2022-03-01", 0.2), ("2022-03", 0.4), ("2022", -0.5), (None, 0.0), ("2022-11-30", None))]
    monthly = timeline(rows, "month")
    assert [r["period"] for r in monthly.rows()] == ["2022-03", "2022-11"]
    march = monthly.rows()[0]
    assert march["articles"] == 2 and march["passages"] == 4 and march["cooperation_index"] == pytest.approx(0.3)
    assert march["share_security"] == 0.5 and march["share_ukraine"] == 1.0 and march["share_friction"] == 0.5
    assert monthly.rows()[1]["cooperation_index"] is None  # an article with no index still counts
    assert monthly.left_out == {"year only": 1, "undated": 1}
    yearly = timeline(rows, "year").rows()
    assert len(yearly) == 1 and yearly[0]["articles"] == 4
    assert [c for c, _ in TIMELINE_COLUMNS] == list(yearly[0])


def test_iter_scored_batches_across_files_in_order_with_predict_scores(tiny_checkpoint):
    inputs = [ArticleInput(k, text=v) for k, v in ARTICLES.items()]
    scored = list(iter_scored(inputs, checkpoint=tiny_checkpoint, chunk_passages=3))
    assert [s.source for s in scored] == list(ARTICLES)
    for item in scored:
        alone = score_article(ARTICLES[item.source], checkpoint=tiny_checkpoint)
        assert [p["text"] for p in item.result["passages"]] == [p["text"] for p in alone["passages"]]
        for p, q in zip(item.result["passages"], alone["passages"]):
            assert p["topics"] == q["topics"] and p["stance"] == q["stance"]
            assert p["stance_scores"]["cooperative"] == pytest.approx(q["stance_scores"]["cooperative"], abs=1e-5)
    x001 = scored[0].result
    assert x001["paragraph_of"] == [0, 0, 1]  # the blank line starts a second paragraph


def test_score_articles_api_with_manifest(archive_dir, tiny_checkpoint):
    folder, manifest = archive_dir
    result = score_articles(folder, manifest, checkpoint=tiny_checkpoint)
    assert [r["id"] for r in result.articles] == list(ARTICLES)
    assert [c for c, _ in ARTICLE_COLUMNS] == list(result.articles[0])
    x001 = result.articles[0]
    assert x001["title"] == "Gas deal" and x001["date"] == "2022-03-04" and x001["n_passages"] == 3
    assert result.articles[4]["title"] is None  # not in the manifest: scored without metadata
    assert result.passages[0]["title"] == "Gas deal" and result.passages[0]["source"].endswith("x001.txt")
    assert len(result.passages) == sum(r["n_passages"] for r in result.articles)
    assert [r["period"] for r in result.timeline] == ["2022-03"]
    assert result.timeline[0]["articles"] == 2
    assert result.left_out == {"year only": 1, "undated": 2}
    passages, articles, tl = result.to_pandas()
    assert len(passages) == len(result.passages) and list(articles.columns) == [c for c, _ in ARTICLE_COLUMNS]
    assert tl.loc[0, "period"] == "2022-03"
    texts = score_articles(["Putin met Xi.", {"text": "Gas flowed.", "id": "g", "date": "2021-01"}],
                           checkpoint=tiny_checkpoint, period="year")
    assert texts.articles[1]["id"] == "g" and texts.timeline[0]["period"] == "2021"


def test_cli_archive_outputs_csv_jsonl(archive_dir, tiny_checkpoint, tmp_path, capsys, caplog):
    folder, manifest = archive_dir
    out, arts, tl = tmp_path / "p.csv", tmp_path / "articles.jsonl", tmp_path / "timeline.csv"
    code = main(["score", str(folder), "--manifest", str(manifest), "-o", str(out), "--articles", str(arts),
                 "--timeline", str(tl), "--checkpoint", str(tiny_checkpoint), "-q"])
    err = capsys.readouterr().err
    assert code == 0, err
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0])[:7] == ["source", "id", "date", "title", "outlet", "url", "index"]
    assert rows[0]["title"] == "Gas deal" and rows[0]["date"] == "2022-03-04"
    articles = [json.loads(l) for l in arts.read_text().splitlines()]
    assert len(articles) == 5 and articles[2]["date"] == "2022" and articles[3]["date"] is None
    assert sum(a["n_passages"] for a in articles) == len(rows)
    timeline_rows = list(csv.DictReader(tl.open()))
    assert [r["period"] for r in timeline_rows] == ["2022-03"]
    assert float(timeline_rows[0]["ci_low"]) <= float(timeline_rows[0]["cooperation_index"]) \
        <= float(timeline_rows[0]["ci_high"])
    code = main(["score", str(folder), "--manifest", str(manifest), "--timeline", str(tmp_path / "y.csv"),
                 "--period", "year", "--checkpoint", str(tiny_checkpoint), "-o", str(tmp_path / "p.jsonl")])
    err = capsys.readouterr().err
    assert code == 0 and "yearly timeline leaves out 2 undated" in err
    assert "x004: month must be in 1..12; scored without a date" in caplog.text + err
    assert [r["articles"] for r in csv.DictReader((tmp_path / "y.csv").open())] == ["3"]
    recs = [json.loads(l) for l in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert recs[0]["title"] == "Gas deal" and recs[0]["id"] == "x001"


def test_cli_parquet_outputs(archive_dir, tiny_checkpoint, tmp_path, capsys):
    pq = pytest.importorskip("pyarrow.parquet")
    folder, manifest = archive_dir
    code = main(["score", str(folder), "--manifest", str(manifest), "-o", str(tmp_path / "p.parquet"),
                 "--articles", str(tmp_path / "a.parquet"), "--timeline", str(tmp_path / "t.parquet"),
                 "--period", "quarter", "--checkpoint", str(tiny_checkpoint), "-q"])
    assert code == 0, capsys.readouterr().err
    passages = pq.read_table(tmp_path / "p.parquet").to_pylist()
    articles = pq.read_table(tmp_path / "a.parquet").to_pylist()
    tl = pq.read_table(tmp_path / "t.parquet").to_pylist()
    assert passages[0]["title"] == "Gas deal" and isinstance(passages[0]["topics"], list)
    assert len(passages) == sum(a["n_passages"] for a in articles) and len(articles) == 5
    assert [r["period"] for r in tl] == ["2022-Q1"] and tl[0]["articles"] == 2


def test_cli_archive_usage_errors(archive_dir, tiny_checkpoint, tmp_path, capsys):
    folder, manifest = archive_dir
    for args, message in (
        (["--articles", str(tmp_path / "a.xlsx")], "give a .csv, .jsonl or .parquet"),
        (["--manifest", str(tmp_path / "missing.jsonl")], "missing.jsonl"),
        (["--address", "auto"], "--address needs --engine ray"),
    ):
        code = main(["score", str(folder), "--checkpoint", str(tiny_checkpoint), *args])
        err = capsys.readouterr().err
        assert code == 2 and message in err, err


def test_html_overview_report(archive_dir, tiny_checkpoint, tmp_path, capsys):
    folder, manifest = archive_dir
    page_file = tmp_path / "report.html"
    code = main(["score", str(folder), "--manifest", str(manifest), "-o", str(page_file),
                 "--checkpoint", str(tiny_checkpoint), "-q"])
    assert code == 0, capsys.readouterr().err
    page = page_file.read_text()
    assert page.count('<details class="article"') == 5 and page.count('<a href="#a-') == 5
    assert '<svg class="timeline"' in page and "Cooperation index by month" in page
    assert "entente 0" in page or "entente unknown" not in page
    assert f"checkpoint {tiny_checkpoint}" in page or "checkpoint " in page
    assert '<span class="date">2022-03-04</span> Gas deal</h3>' in page  # date and title in the heading
    x001 = page[page.index('id="a-1"'):page.index('id="a-2"')]
    assert x001.count("<p>") == 2  # the blank line in x001 is kept
    assert x001.count('class="sc"') == 3  # each passage prints its scores
    assert "monthly timeline leaves out 1 dated only to a year and 2 undated" in page
    lower = page.lower()
    assert "<script" not in lower and "<link" not in lower and "src=" not in lower and "url(" not in lower
    assert 'href="http' not in lower
