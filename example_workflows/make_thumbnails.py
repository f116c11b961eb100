"""The thumbnails ComfyUI's template browser shows beside the example graphs: <name>.jpg for every UI-format
<name>.json here (the _api.json twins need none), made from what the graph itself makes when `noisekit run`
runs it: ``python example_workflows/make_thumbnails.py [NAME ...]`` (about a minute on a laptop CPU).

The browser shows a square card, so each thumbnail is a SIZE x SIZE JPEG:
- a graph that changes a photo it loads (denoise, inpaint): the photo before and after, split down the middle,
  the area a loaded mask repaints blacked out on the before side;
- a strip of frames of a loaded photo (Noise Strip): one square, each vertical band from the next frame;
- several pictures (samplers side by side): a grid, a row per saved output, named;
- anything else: the picture whole, centred on white. Sigma Plot nodes are set to draw a square chart.
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from noisekit.nodes.plot import _font

HERE = Path(__file__).resolve().parent
SIZE = 384


def run(graph_path: Path, graph: dict, out: Path) -> dict[str, list[Image.Image]]:
    """Saved prefix -> its pictures, in the order the graph's output nodes wrote them."""
    report = out / "report.json"
    square = [f"{node['id']}.{side}={SIZE}" for node in graph["nodes"] if node["type"] == "NoisekitSigmaPlot"
              for side in ("width", "height")]
    subprocess.run([sys.executable, "-m", "noisekit.cli", "run", str(graph_path), "--output-dir", str(out),
                    "--report", str(report), *[arg for s in square for arg in ("--set", s)]],
                   check=True, stdout=subprocess.DEVNULL)
    saved: dict[str, list[Image.Image]] = {}
    for path in map(Path, json.loads(report.read_text())["outputs"]):
        saved.setdefault(path.name.rsplit("_", 2)[0], []).append(Image.open(path).convert("RGB"))
    return saved


def loaded(graph: dict, node_type: str) -> Image.Image | None:
    """The file a LoadImage / LoadImageMask node of the graph reads from input/."""
    for node in graph["nodes"]:
        if node["type"] == node_type:
            return Image.open(HERE / "input" / node["widgets_values"][0])
    return None


def square_box(size: tuple, centre: tuple) -> tuple:
    """The largest square inside an image of ``size``, as close to ``centre`` as it fits."""
    side = min(size)
    left = int(min(max(centre[0] - side / 2, 0), size[0] - side))
    top = int(min(max(centre[1] - side / 2, 0), size[1] - side))
    return left, top, left + side, top + side


def before_after(before: Image.Image, after: Image.Image, mask: Image.Image | None) -> Image.Image:
    centre = (before.width / 2, before.height / 2)
    if mask is not None:  # black out the hole, and keep it in view
        hole = np.asarray(mask.convert("L")) > 127
        before = Image.fromarray(np.where(hole[..., None], 0, np.asarray(before)).astype(np.uint8))
        rows, cols = np.nonzero(hole)
        centre = ((cols.min() + cols.max()) / 2, (rows.min() + rows.max()) / 2)
    box = square_box(before.size, centre)
    out = after.crop(box).resize((SIZE, SIZE), Image.LANCZOS)
    out.paste(before.crop(box).resize((SIZE, SIZE), Image.LANCZOS).crop((0, 0, SIZE // 2, SIZE)))
    draw = ImageDraw.Draw(out)
    draw.line([(SIZE // 2, 0), (SIZE // 2, SIZE)], fill="white", width=3)
    font = _font(16)
    for x, label in ((SIZE // 4, "before"), (3 * SIZE // 4, "after")):
        draw.text((x, SIZE - 10), label, fill="white", anchor="mb", font=font, stroke_width=2, stroke_fill="black")
    return out


def bands(strip: Image.Image, frames: int) -> Image.Image:
    """Frame k of a strip gives the k-th vertical band of one square: the sequence read left to right."""
    width = strip.width // frames
    box = square_box((width, strip.height), (width / 2, strip.height / 2))
    squares = [strip.crop((k * width + box[0], box[1], k * width + box[2], box[3])).resize((SIZE, SIZE))
               for k in range(frames)]
    out = Image.new("RGB", (SIZE, SIZE))
    for k, square in enumerate(squares):
        band = (k * SIZE // frames, 0, (k + 1) * SIZE // frames, SIZE)
        out.paste(square.crop(band), band[:2])
    return out


def grid(saved: dict[str, list[Image.Image]]) -> Image.Image:
    """A row per saved output (as many columns as rows, so the grid is square), its name on the row."""
    rows = list(saved.items())
    cell = SIZE // len(rows)
    out = Image.new("RGB", (SIZE, SIZE), (24, 24, 24))
    draw, font = ImageDraw.Draw(out), _font(15)
    for r, (prefix, pictures) in enumerate(rows):
        for c, picture in enumerate(pictures[: len(rows)]):
            out.paste(picture.resize((cell - 2, cell - 2), Image.NEAREST), (c * cell + 1, r * cell + 1))
        draw.text((6, r * cell + 4), prefix.removeprefix("noisekit_"), fill="white", anchor="lt", font=font,
                  stroke_width=2, stroke_fill="black")
    return out


def centred(picture: Image.Image) -> Image.Image:
    picture = picture.copy()
    picture.thumbnail((SIZE, SIZE), Image.LANCZOS)
    out = Image.new("RGB", (SIZE, SIZE), "white")
    out.paste(picture, ((SIZE - picture.width) // 2, (SIZE - picture.height) // 2))
    return out


def thumbnail(graph_path: Path) -> Image.Image:
    graph = json.loads(graph_path.read_text())
    with tempfile.TemporaryDirectory() as out:
        saved = run(graph_path, graph, Path(out))
    photo, mask = loaded(graph, "LoadImage"), loaded(graph, "LoadImageMask")
    pictures = [p for group in saved.values() for p in group]
    if len(pictures) > 1:
        return grid(saved)
    (picture,) = pictures
    if photo is not None and picture.size == photo.size:
        return before_after(photo.convert("RGB"), picture, mask)
    if photo is not None and picture.height == photo.height and picture.width % photo.width == 0:
        return bands(picture, picture.width // photo.width)
    return centred(picture)


def main(names=()) -> int:
    graphs = sorted(p for p in HERE.glob("*.json") if not p.name.endswith("_api.json"))
    for graph in graphs:
        if names and graph.stem not in names:
            continue
        target = graph.with_suffix(".jpg")
        thumbnail(graph).save(target, "JPEG", quality=85, optimize=True, progressive=True)
        print(f"{target}: {target.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
