"""``noisekit denoise IN_DIR OUT_DIR`` and ``noisekit inpaint IN_DIR MASK_DIR OUT_DIR``: each photo of the
folder comes out as the one-photo command writes it, bit for bit; a bad photo, a missing mask or an
output that exists fails only its photo, and nothing is overwritten; a rerun skips what is done."""
import json
import os

import numpy as np
import pytest
from PIL import Image

from noisekit.batch import MANIFEST
from noisekit.cli import main

INPUT = os.path.join(os.path.dirname(__file__), "..", "..", "example_workflows", "input")
pytestmark = pytest.mark.usefixtures("one_thread")


def crop(name, box, mode="RGB"):
    return Image.open(os.path.join(INPUT, name)).convert(mode).crop(box)


def statuses(out) -> dict:
    return {r["key"]: (r["status"], r["error"] and r["error"]["message"]) for r in map(json.loads, open(out / MANIFEST))}


def test_denoise_a_folder_as_one_photo_at_a_time(tmp_path):
    src, out, alone = tmp_path / "in", tmp_path / "out", tmp_path / "alone"
    for d in (src, out, alone):
        d.mkdir()
    crop("coffee_noisy25.png", (0, 0, 40, 40)).save(src / "a.png")
    crop("coffee_noisy25.png", (100, 60, 140, 100)).save(src / "b.jpg", quality=95)
    crop("coffee_noisy25.png", (200, 60, 240, 100), "L").save(src / "c.png")
    (src / "bad.png").write_bytes(b"no image")
    (src / "notes.txt").write_text("not a photo")
    (out / "c.png").write_bytes(b"mine")  # never replaced
    assert main(["denoise", str(src), str(out), "--workers", "2"]) == 3
    for name in ("a.png", "b.jpg"):
        assert main(["denoise", str(src / name), str(alone / name)]) == 0
        assert (out / name).read_bytes() == (alone / name).read_bytes()
    found = statuses(out)
    assert sorted(found) == ["a.png", "b.jpg", "bad.png", "c.png"]
    assert found["c.png"][0] == "failed" and "never overwrites" in found["c.png"][1]
    assert found["bad.png"][0] == "failed" and "bad.png" in found["bad.png"][1]
    assert (out / "c.png").read_bytes() == b"mine" and not (out / "bad.png").exists()
    os.remove(out / "c.png")  # the user makes room: the rerun does c.png alone
    assert main(["denoise", str(src), str(out), "--workers", "2"]) == 3
    assert statuses(out)["c.png"][0] == "done" and Image.open(out / "c.png").mode == "L"
    assert len(list(map(json.loads, open(out / MANIFEST)))) == 6  # a.png and b.jpg were skipped


def test_inpaint_a_folder_with_its_masks(tmp_path):
    src, masks, out, alone = tmp_path / "in", tmp_path / "masks", tmp_path / "out", tmp_path / "alone"
    for d in (src, masks, alone):
        d.mkdir()
    box = (150, 100, 198, 148)
    crop("chelsea.png", box).save(src / "cat.jpg", quality=95)
    crop("chelsea.png", (0, 0, 48, 48)).save(src / "corner.png")
    crop("chelsea_mask.png", box, "L").save(masks / "cat.png")  # the same stem, another extension
    options = ["--steps", "3"]
    assert main(["inpaint", str(src), str(masks), str(out), "--workers", "1", *options]) == 3
    assert main(["inpaint", str(src / "cat.jpg"), str(masks / "cat.png"), str(alone / "cat.jpg"), *options]) == 0
    assert (out / "cat.jpg").read_bytes() == (alone / "cat.jpg").read_bytes()
    found = statuses(out)
    assert found["corner.png"][0] == "failed" and "no mask for corner.png" in found["corner.png"][1]
    assert not np.array_equal(np.asarray(Image.open(out / "cat.jpg")), np.asarray(Image.open(src / "cat.jpg")))


def test_a_folder_with_broken_symbolic_links_names_them_once(tmp_path, capsys):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    crop("coffee_noisy25.png", (0, 0, 40, 40)).save(src / "a.png")
    os.symlink(tmp_path / "nowhere.png", src / "dangling.png")
    os.symlink(src / "loop.png", src / "loop.png")
    assert main(["denoise", str(src), str(out), "--workers", "1"]) == 0
    err = capsys.readouterr().err
    assert err.count("skipped 2 symbolic links that lead to no file: dangling.png, loop.png") == 1
    assert sorted(statuses(out)) == ["a.png"]
