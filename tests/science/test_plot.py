"""The per-layer retention chart (retention.png) a CNN module package carries, and the card that embeds it."""

from __future__ import annotations

import dataclasses
import struct

import pytest

from nnpm.errors import UsageError
from nnpm.package.card import render_card
from nnpm.science.cnn import plot
from nnpm.science.cnn.plot import chart_available, write_retention_chart
from tests.factories import make_manifest

LAYERS = [("conv1", 5, 8), ("conv2", 8, 8), ("conv3", 0, 16), ("fc.0", 12, 64)]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
IMAGE_LINE = "![Units kept per layer](retention.png)"


def _png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the IHDR chunk, which a valid PNG has first, right after the magic bytes."""
    assert data[:8] == PNG_MAGIC
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    return struct.unpack(">II", data[16:24])


def test_the_chart_is_a_small_png_about_six_by_three_inches(tmp_path):
    assert chart_available()
    out = write_retention_chart(tmp_path / "retention.png", LAYERS, "cifar10/cat-module: units kept")
    assert out == tmp_path / "retention.png"
    data = out.read_bytes()
    assert _png_size(data) == (600, 300)
    assert len(data) < 40_000
    assert b"Software" not in data and b"matplotlib" not in data.lower()
    assert [p.name for p in tmp_path.iterdir()] == ["retention.png"]  # no temporary file left behind


def test_the_chart_reads_back_as_an_image(tmp_path):
    from matplotlib.image import imread

    pixels = imread(write_retention_chart(tmp_path / "retention.png", LAYERS, "title"))
    assert pixels.shape[:2] == (300, 600)
    assert pixels.min() < 0.5 < pixels.max()  # something is drawn on the white background


def test_the_same_layers_give_the_same_bytes(tmp_path):
    first = write_retention_chart(tmp_path / "a.png", LAYERS, "units kept").read_bytes()
    second = write_retention_chart(tmp_path / "b.png", LAYERS, "units kept").read_bytes()
    assert first == second
    other = write_retention_chart(tmp_path / "c.png", [*LAYERS[:-1], ("fc.0", 13, 64)], "units kept")
    assert other.read_bytes() != first


def test_rewriting_a_chart_replaces_it(tmp_path):
    path = tmp_path / "retention.png"
    path.write_bytes(b"old")
    write_retention_chart(path, LAYERS, "t")
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_no_layers_is_one_clear_usage_error(tmp_path):
    with pytest.raises(UsageError, match="no layers to chart") as err:
        write_retention_chart(tmp_path / "retention.png", [], "title")
    assert err.value.exit_code == 2 and "\n" not in err.value.one_line()
    assert not (tmp_path / "retention.png").exists()


@pytest.mark.parametrize(
    "bad", [("conv1", 9, 8), ("conv1", -1, 8), ("conv1", 0, 0), ("", 1, 2), ("x", 1.5, 2)]
)
def test_a_layer_that_is_not_name_kept_width_is_refused(tmp_path, bad):
    with pytest.raises(UsageError, match="layer 1 is"):
        write_retention_chart(tmp_path / "retention.png", [LAYERS[0], bad], "title")


def test_without_matplotlib_the_error_says_to_install_the_plot_extra(tmp_path, monkeypatch):
    monkeypatch.setattr(plot, "chart_available", lambda: False)
    with pytest.raises(UsageError, match="matplotlib") as err:
        write_retention_chart(tmp_path / "retention.png", LAYERS, "title")
    assert "pip install 'nnpm[plot]'" in err.value.hint


def test_the_card_embeds_the_chart_the_manifest_names():
    m = make_manifest()
    m = dataclasses.replace(
        m, metrics=dataclasses.replace(m.metrics, extra={"retention_chart": "retention.png"})
    )
    card = render_card(m)
    assert IMAGE_LINE in card.splitlines()
    assert card.index("## Units kept per layer") < card.index(IMAGE_LINE) < card.index("## Use")
    assert card == render_card(m)


def test_without_a_chart_the_card_has_no_image_line_and_is_unchanged():
    m = make_manifest()
    card = render_card(m)
    assert "![" not in card and "Units kept per layer" not in card
    with_chart = dataclasses.replace(
        m, metrics=dataclasses.replace(m.metrics, extra={"retention_chart": "retention.png"})
    )
    extra = "\n## Units kept per layer\n\n" + IMAGE_LINE + "\n"
    assert render_card(with_chart).replace(extra, "", 1) == card


@pytest.mark.parametrize("name", [None, 3, "", "../retention.png", "my chart.png", "a)b.png"])
def test_a_chart_entry_that_is_not_a_plain_file_name_is_not_embedded(name):
    m = make_manifest()
    m = dataclasses.replace(m, metrics=dataclasses.replace(m.metrics, extra={"retention_chart": name}))
    assert "![" not in render_card(m)
