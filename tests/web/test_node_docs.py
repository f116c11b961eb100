"""The node help pages ComfyUI's node library shows (web/docs/<NodeName>.md): one per registered node, each
exactly what docs/make_node_docs.py makes from the nodes' declarations now (a changed default, bound or tooltip
fails here until `python docs/make_node_docs.py` is run), and every picture they link present and small."""
import importlib.util
import re
from pathlib import Path

import pytest
from PIL import Image

from noisekit.nodes import NODE_CLASS_MAPPINGS

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "web" / "docs"
LINK = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")


@pytest.fixture(scope="module")
def generated():
    spec = importlib.util.spec_from_file_location("make_node_docs", ROOT / "docs" / "make_node_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.pages()


def committed() -> dict:
    return {p.name: p.read_text() for p in DOCS.glob("*.md")}


def test_every_registered_node_has_a_page_and_no_other():
    assert {name[:-3] for name in committed()} == set(NODE_CLASS_MAPPINGS)


def test_pages_are_what_the_generator_makes_now(generated):
    stale = sorted(name for name, text in generated.items() if committed().get(name) != text)
    assert not stale, f"run `python docs/make_node_docs.py --text` to regenerate {stale}"


def test_linked_pictures_exist_are_used_and_small():
    linked = {(DOCS / link).resolve() for text in committed().values() for link in LINK.findall(text)}
    assert linked and all(path.is_relative_to(DOCS) for path in linked)
    missing = sorted(str(p) for p in linked if not p.is_file())
    assert not missing
    pictures = set((DOCS / "images").iterdir())
    assert pictures == linked, f"pictures no page links: {sorted(p.name for p in pictures - linked)}"
    for path in pictures:
        with Image.open(path) as image:
            assert image.format in ("PNG", "JPEG") and max(image.size) <= 1024
    assert sum(p.stat().st_size for p in DOCS.rglob("*") if p.is_file()) < 1_000_000  # the whole help, in the wheel
