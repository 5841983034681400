"""Scoring an archive on a Ray cluster: the same scoring as ``entente score``, as a Ray Data pipeline.

For archives that outgrow one machine (the ``ray`` extra: ``pip install 'entente[ray]'``)::

    files (+ manifest) --from_items--> dataset of (source, path, metadata)
        --map_batches(_Scorer actors: one model per actor, loaded once)-->
            passages: Parquet shards written by each actor (passages/part-*.parquet)
            article table rows --write_parquet--> articles/*.parquet
    driver: the article table and the timeline from articles/*.parquet (--articles, --timeline)

Each actor scores its batch of articles with ``model.archive.iter_scored``, the local
path, so passages, labels and scores are the same (to float rounding) as ``entente
score``. Passage shards have the columns of ``entente score -o FILE.parquet``. On a
cluster, the input files and the output folder must be on storage every node sees
(a shared file system). Entry points: ``score_with_ray`` and ``entente score --engine ray
[--address ADDR] -o DIR``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from pathlib import Path

from . import archive
from .tables import arrow_schema, open_table, passage_columns, passage_row

ARTICLES_PER_BATCH = 64


class _Scorer:
    """A Ray Data actor: loads the model once, then scores batches of articles, writing their
    passages as one Parquet shard per batch and returning their article-table rows."""

    def __init__(self, checkpoint: str | None, passage: str, batch_size: int, shards: str, meta_fields: list[str]):
        from .predict import load_encoder, load_model

        load_model(checkpoint)
        load_encoder(checkpoint)
        self.checkpoint, self.passage, self.batch_size = checkpoint, passage, batch_size
        self.shards = Path(shards)
        self.columns = passage_columns(meta_fields)

    def __call__(self, batch: dict) -> "pyarrow.Table":  # noqa: F821
        import pyarrow as pa

        inputs = [archive.ArticleInput(str(source), path=Path(str(path)), meta=json.loads(str(meta)))
                  for source, path, meta in zip(batch["source"], batch["path"], batch["meta"])]
        rows = []
        shard = self.shards / f"part-{uuid.uuid4().hex}.parquet"
        with open_table(shard, self.columns, "parquet") as out:
            for item in archive.iter_scored(inputs, passage=self.passage, checkpoint=self.checkpoint,
                                            batch_size=self.batch_size):
                if item.error is not None:  # unreadable file: an article with no passage
                    item.result = {"passages": [], "summary": _empty_summary(), "meta": item.meta}
                for p in item.result["passages"]:
                    out.write_row(passage_row(item.source, item.meta, p))
                rows.append(archive.article_row(item.source, item.result))
        return pa.Table.from_pylist(rows, schema=arrow_schema(archive.ARTICLE_COLUMNS))


def _empty_summary() -> dict:
    from .predict import summarize

    return summarize([])


def score_with_ray(
    paths: Sequence[str | Path],
    output: str | Path,
    *,
    manifest: Sequence[str | Path] | None = None,
    articles: str | Path | None = None,
    timeline: str | Path | None = None,
    period: archive.Period = "month",
    passage: str = "sentence",
    checkpoint: str | Path | None = None,
    batch_size: int = 64,
    address: str | None = None,
    cpus_per_actor: int = 1,
    articles_per_batch: int = ARTICLES_PER_BATCH,
) -> dict:
    """Score ``paths`` (``.txt`` files) on Ray into the folder ``output``:
    ``output/passages/part-*.parquet`` and ``output/articles/*.parquet``.

    Joins the cluster at ``address`` (``"auto"``, ``"ray://host:10001"``), else a running
    local instance, else starts one. One actor per ``cpus_per_actor`` CPUs of the cluster.
    ``articles`` and ``timeline`` (optional files, format by suffix) are written by the
    driver from the article shards. Returns counts: articles, passages, actors, left_out.
    """
    import pyarrow.parquet as pq
    import ray

    from .checkpoint import resolve

    checkpoint = str(resolve(checkpoint).resolve())
    by_id = archive.read_manifests(manifest) if manifest else None
    out = Path(output)
    (out / "passages").mkdir(parents=True, exist_ok=True)
    meta_fields = list(archive.META_FIELDS) if by_id is not None else []
    items = [{"source": str(p), "path": str(Path(p).resolve()),
              "meta": json.dumps(archive.manifest_meta(str(p), by_id))} for p in paths]
    if not items:
        raise ValueError("no input file to score")
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    actors = max(1, int(ray.cluster_resources().get("CPU", 1) // cpus_per_actor))
    ds = ray.data.from_items(items)
    scored = ds.map_batches(
        _Scorer, batch_size=articles_per_batch, batch_format="numpy", concurrency=actors, num_cpus=cpus_per_actor,
        fn_constructor_kwargs={"checkpoint": checkpoint, "passage": passage, "batch_size": batch_size,
                               "shards": str((out / "passages").resolve()), "meta_fields": meta_fields})
    scored.write_parquet(str((out / "articles").resolve()))

    table = archive.ArchiveTables(articles, timeline, period)
    n_articles = n_passages = 0
    with table:
        for file in sorted((out / "articles").glob("*.parquet")):
            for batch in pq.ParquetFile(file).iter_batches():
                for row in batch.to_pylist():
                    n_articles += 1
                    n_passages += row["n_passages"]
                    table.timeline.add(row)
                    if table.articles is not None:
                        table.articles.write_row(row)
    return {"articles": n_articles, "passages": n_passages, "actors": actors,
            "left_out": dict(table.timeline.left_out)}
