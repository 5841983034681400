"""Open the HTML report in a real headless browser: every passage is on the page, the page is not blank."""

import html
import shutil
import struct
import subprocess
import zlib

import pytest

from model.report import open_writer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium(tmp_path, *args):
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120)


def png_pixels(path) -> bytes:
    """The decompressed image data of a PNG (filter bytes included): enough to tell blank from not."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return zlib.decompress(idat)


def test_report_renders_every_passage(tmp_path, tiny_checkpoint):
    from model import score_article

    text = ("Russia and China signed a gas deal. Their navies held joint drills.\n\n"
            "A passage with <script>document.title='HACKED'</script> inside stays text.")
    result = score_article(text, checkpoint=tiny_checkpoint)
    page = tmp_path / "report.html"
    with open_writer("html", page) as w:
        w.write_article("article.txt", result)

    dom = chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    assert "<title>entente report</title>" in dom  # the script did not run
    assert len(result["passages"]) == 3
    for p in result["passages"]:
        assert html.escape(p["text"], quote=False) in dom

    shot = tmp_path / "shot.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1000,800", page.as_uri())
    assert shot.exists()
    assert len(set(png_pixels(shot))) > 20  # a blank page has only a handful of distinct byte values


def test_archive_report_renders_in_the_browser(tmp_path, tiny_checkpoint):
    """The overview, the article table and every collapsed article's heading are on the rendered page."""
    from model.archive import as_inputs, iter_scored, run_info

    articles = [{"text": f"Russia and China signed deal number {i}. Their navies held drills.\n\nTrade grew.",
                 "id": f"n{i}", "date": f"2021-{i % 12 + 1:02d}-01", "title": f"Deal {i} <b>signed</b>"}
                for i in range(12)]
    page = tmp_path / "archive.html"
    with open_writer("html", page, run=run_info(tiny_checkpoint, "sentence", "torch")) as w:
        for item in iter_scored(as_inputs(articles), checkpoint=tiny_checkpoint):
            w.write_article(item.source, item.result)
    dom = chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    assert dom.count("<details") == 12 and 'class="timeline"' in dom
    for i in range(12):
        assert f"Deal {i} &lt;b&gt;signed&lt;/b&gt;" in dom
    shot = tmp_path / "archive.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,1400", page.as_uri())
    assert len(set(png_pixels(shot))) > 20
