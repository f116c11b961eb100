"""Every example graph in UI format has the thumbnail ComfyUI's template browser shows beside it: a real,
small, square-ish JPEG of the same name (made by `python example_workflows/make_thumbnails.py`)."""
from pathlib import Path

import pytest
from PIL import Image

EXAMPLES = Path(__file__).resolve().parents[1] / "example_workflows"
UI_GRAPHS = sorted(p for p in EXAMPLES.glob("*.json") if not p.name.endswith("_api.json"))


def test_thumbnails_match_the_ui_graphs():
    assert UI_GRAPHS
    assert {p.stem for p in EXAMPLES.glob("*.jpg")} == {p.stem for p in UI_GRAPHS}


@pytest.mark.parametrize("graph", UI_GRAPHS, ids=lambda p: p.stem)
def test_thumbnail_is_a_small_square_jpeg(graph):
    path = graph.with_suffix(".jpg")
    assert 4_000 < path.stat().st_size < 150_000
    with Image.open(path) as image:
        assert image.format == "JPEG" and image.mode == "RGB"
        assert 256 <= min(image.size) and max(image.size) <= 768 and 0.75 <= image.width / image.height <= 4 / 3
        image.load()  # decodes: not truncated
        assert any(high - low > 64 for low, high in image.getextrema())  # a picture, not a flat field
