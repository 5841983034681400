"""The Ray Data pipeline on a local Ray instance gives the local path's passages, labels and scores."""

import json

import pytest

ray = pytest.importorskip("ray", reason="the ray extra is not installed")
pq = pytest.importorskip("pyarrow.parquet")

from model.archive import score_articles  # noqa: E402
from model.ray_engine import score_with_ray  # noqa: E402

ARTICLES = {
    "r1": "Russia and China signed a gas deal. Their navies held joint drills.\n",
    "r2": "Taiwan is part of China, Moscow said. Kyiv protested the visit.\n\nSanctions bit.\n",
    "r3": "Xi and Putin met in Samarkand. They disagreed over Central Asia.\n",
}


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_pipeline_matches_local_scoring(tmp_path, tiny_checkpoint, local_ray):
    folder = tmp_path / "in"
    folder.mkdir()
    for ident, text in ARTICLES.items():
        (folder / f"{ident}.txt").write_text(text)
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"id": "r1", "date": "2023-05-01", "title": "Gas"}) + "\n")
    paths = sorted(folder.glob("*.txt"))
    summary = score_with_ray(paths, tmp_path / "out", manifest=[manifest], articles=tmp_path / "a.csv",
                             timeline=tmp_path / "t.jsonl", checkpoint=tiny_checkpoint, articles_per_batch=2)
    local = score_articles(paths, manifest, checkpoint=tiny_checkpoint)
    remote = pq.read_table(tmp_path / "out" / "passages").to_pylist()
    assert summary["articles"] == 3 and summary["passages"] == len(local.passages) == len(remote)
    key = lambda r: (r["source"], r["index"])  # noqa: E731
    for a, b in zip(sorted(local.passages, key=key), sorted(remote, key=key)):
        assert (a["source"], a["index"], a["text"], a["topics"], a["stance"], a["title"]) == \
            (b["source"], b["index"], b["text"], b["topics"], b["stance"], b["title"])
        for col in a:
            if col.startswith("p_"):
                assert abs(a[col] - b[col]) <= 1e-5, col
    assert (tmp_path / "a.csv").read_text().count("\n") == 4
    assert json.loads((tmp_path / "t.jsonl").read_text())["period"] == "2023-05"
