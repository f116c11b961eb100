"""Every saved example graph runs through the runner, in both formats, with the bundled model."""
import glob
import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from noisekit.runner import Runner, default_node_classes, load_prompt
from noisekit.runner.standins import PATHS
from noisekit.photo.estimate import estimate_sigma

HERE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "example_workflows")
UI_GRAPHS = sorted(glob.glob(os.path.join(HERE, "*.json")))  # their API-format twins are in api/
CLASSES = default_node_classes()
FAST = {"NoisekitInpaintPhoto": {"steps": 4, "jump_length": 2}, "NoisekitScheduleKarras": {"steps": 6}}


def _prompt(path):
    return load_prompt(json.load(open(path)), CLASSES)


@pytest.mark.parametrize("ui_path", UI_GRAPHS, ids=os.path.basename)
def test_ui_and_api_examples_are_the_same_graph(ui_path):
    api_path = os.path.join(HERE, "api", os.path.basename(ui_path))
    assert os.path.exists(api_path), "each example ships in both formats"
    (ui, workflow), (api, _) = _prompt(ui_path), _prompt(api_path)
    assert workflow is not None
    assert {k: (v["class_type"], v["inputs"]) for k, v in ui.items()} == \
           {k: (v["class_type"], v["inputs"]) for k, v in api.items()}


@pytest.fixture(autouse=True)
def dirs(tmp_path, monkeypatch):
    monkeypatch.setitem(PATHS, "input", os.path.join(HERE, "input"))
    monkeypatch.setitem(PATHS, "output", str(tmp_path))
    return tmp_path


def _run(name):
    prompt, workflow = _prompt(os.path.join(HERE, name))
    for node in prompt.values():
        node["inputs"].update(FAST.get(node["class_type"], {}))
    result = Runner(CLASSES).run(prompt, {"workflow": workflow})
    return [img["path"] for ui in result.ui.values() for img in ui["images"]]


def _read(path):
    return torch.from_numpy(np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255)[None]


def test_denoise_example_removes_the_noise():
    (out,) = _run("denoise_photo.json")
    noisy = _read(os.path.join(HERE, "input", "coffee_noisy25.png"))
    result = _read(out)
    assert result.shape == noisy.shape
    assert estimate_sigma(noisy) * 255 > 20 and estimate_sigma(result) * 255 < 5
    assert "workflow" in Image.open(out).info and "prompt" in Image.open(out).info


def test_inpaint_example_keeps_everything_outside_the_grown_mask():
    (out,) = _run("inpaint_photo.json")
    photo = np.asarray(Image.open(os.path.join(HERE, "input", "chelsea.png")))
    mask = torch.from_numpy(np.asarray(Image.open(os.path.join(HERE, "input", "chelsea_mask.png")), np.float32) / 255)
    from noisekit.photo.masks import grow_mask

    keep = (grow_mask(mask[None], 2)[0] == 0).numpy()
    result = np.asarray(Image.open(out))
    assert np.array_equal(result[keep], photo[keep]) and not np.array_equal(result[~keep], photo[~keep])


def test_generation_and_picture_examples():
    outs = _run("generate_ddpm_ddim_euler.json")
    assert len(outs) == 12 and all(Image.open(p).size == (64, 64) for p in outs)
    (strip,) = _run("forward_noise_strip.json")  # one image: the 7 noise levels side by side
    photo = _read(os.path.join(HERE, "input", "chelsea.png"))
    h, w = photo.shape[1:3]
    assert Image.open(strip).size == (7 * w, h)
    assert float((_read(strip)[:, :, -w:] - photo).abs().max()) <= 1 / 255 + 1e-6  # the last level is sigma 0
    (plot,) = _run("schedule_comparison.json")
    assert Image.open(plot).size == (768, 432)


def test_schedule_comparison_legend_names_the_schedules():
    """The legend shows the schedule nodes' titles: the plot is pixel for pixel the one drawn with those
    names, and not the one drawn with the input names sigmas_1..4."""
    from noisekit.nodes.plot import plot_sigmas

    (plot,) = _run("schedule_comparison.json")
    prompt, _ = _prompt(os.path.join(HERE, "schedule_comparison.json"))
    sigmas = []
    for node in (prompt[k] for k in "1234"):  # the four schedules, as _run made them
        cls = CLASSES[node["class_type"]]
        sigmas.append(getattr(cls(), cls.FUNCTION)(**{**node["inputs"], **FAST.get(node["class_type"], {})})[0])
    drawn = np.asarray(Image.open(plot).convert("RGB"))
    titles = ["Karras", "Exponential", "Align Your Steps", "normal (SD1.5)"]
    expected = plot_sigmas(list(zip(titles, sigmas)), 768, 432)
    assert np.array_equal(drawn, np.asarray(expected))
    numbered = plot_sigmas([(f"sigmas_{k}", s) for k, s in enumerate(sigmas, 1)], 768, 432)
    assert not np.array_equal(drawn, np.asarray(numbered))
