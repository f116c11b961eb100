"""Golden regression checks: `noisekit run GRAPH --golden DIR` against recorded outputs."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from noisekit.cli import main
from noisekit.runner import Runner
from noisekit.runner import golden
from noisekit.exits import EXIT_GOLDEN, EXIT_OK


def noise_graph(seed=3, sigma=0.3) -> dict:
    """A grey picture with seeded forward noise, saved: the seed decides every pixel."""
    return {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 24, "height": 16, "batch_size": 1, "color": 0x808080}},
        "2": {"class_type": "NoisekitForwardNoise", "inputs": {"sigma": sigma, "seed": seed, "parameterisation": "ve",
                                                               "image": ["1", 0]}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "golden"}},
    }


def run(tmp_path, graph: dict, *flags) -> tuple[int, dict]:
    path = tmp_path / "graph.json"
    path.write_text(json.dumps(graph))
    report = tmp_path / "report.json"
    if report.exists():
        report.unlink()
    code = main(["run", str(path), "--output-dir", str(tmp_path / "out"), "--report", str(report), *flags])
    return code, json.loads(report.read_text())


def test_unchanged_graph_passes_and_report_hashes_every_output(tmp_path):
    goldens = tmp_path / "golden"
    code, report = run(tmp_path, noise_graph(), "--golden", str(goldens), "--update-golden")
    assert code == EXIT_OK and report["golden"]["status"] == "updated"
    assert sorted(p.name for p in goldens.iterdir()) == ["3_0.png", "golden.json"]
    sidecar = json.loads((goldens / "golden.json").read_text())
    assert sidecar["tolerance"] == golden.DEFAULT_TOLERANCE
    code, again = run(tmp_path, noise_graph(), "--golden", str(goldens))
    assert code == EXIT_OK and again["golden"]["status"] == "passed", again["golden"]
    entry = again["golden"]["outputs"]["3_0.png"]
    assert entry["max_abs"] == 0 and entry["psnr"] is None and entry["ssim"] == pytest.approx(1.0)
    # a second run wrote a second file (SaveImage's counter), yet the content hash is the same
    assert again["hashes"] == report["hashes"] == {"3_0.png": sidecar["outputs"]["3_0.png"]}
    assert len(list((tmp_path / "out").glob("golden_*.png"))) == 2
    assert not (tmp_path / "golden-diff").exists()


def test_changed_seed_fails_with_diff_pictures(tmp_path, capsys):
    goldens = tmp_path / "golden"
    assert run(tmp_path, noise_graph(seed=3), "--golden", str(goldens), "--update-golden")[0] == EXIT_OK
    code, report = run(tmp_path, noise_graph(seed=4), "--golden", str(goldens))
    assert code == EXIT_GOLDEN and report["status"] == "golden_mismatch"
    entry = report["golden"]["outputs"]["3_0.png"]
    assert not entry["pass"] and entry["psnr"] < 40 and "psnr" in entry["reason"]
    assert "3_0.png" in capsys.readouterr().err
    diff, side = Image.open(entry["diff"]), Image.open(entry["side_by_side"])
    assert str(tmp_path / "golden-diff") in entry["diff"]
    assert diff.size == (24, 16) and side.size == (3 * 24 + 8, 16)
    # the diff picture is |actual - golden| stretched to white: zero where the pixels agree
    a = golden.read_pixels(str(goldens / "3_0.png"))
    b = golden.read_pixels(report["outputs"][-1])
    expected = np.abs(a - b).mean(-1) == 0
    assert ((np.asarray(diff).max(-1) == 0) == expected).all()


def test_one_lsb_change_passes_within_tolerance_but_fails_exact(tmp_path):
    goldens = tmp_path / "golden"
    assert run(tmp_path, noise_graph(), "--golden", str(goldens), "--update-golden")[0] == EXIT_OK
    pixels = np.array(Image.open(goldens / "3_0.png"))
    pixels[5, 7, 1] ^= 1  # one least significant bit of one channel of one pixel
    Image.fromarray(pixels).save(goldens / "3_0.png")
    code, report = run(tmp_path, noise_graph(), "--golden", str(goldens))
    entry = report["golden"]["outputs"]["3_0.png"]
    assert code == EXIT_OK and entry["max_abs"] == pytest.approx(1 / 255)
    # one channel of 24*16*3 values off by 1/255: MSE = (1/255)^2 / 1152
    assert entry["psnr"] == pytest.approx(10 * np.log10(255**2 * 1152), abs=1e-4)
    sidecar = json.loads((goldens / "golden.json").read_text())
    sidecar["tolerance"]["exact"] = True
    (goldens / "golden.json").write_text(json.dumps(sidecar))
    code, report = run(tmp_path, noise_graph(), "--golden", str(goldens))
    assert code == EXIT_GOLDEN and "content hash" in report["golden"]["outputs"]["3_0.png"]["reason"]


def test_tolerance_is_kept_and_missing_or_extra_outputs_fail(tmp_path):
    goldens = tmp_path / "golden"
    goldens.mkdir()
    (goldens / "golden.json").write_text(json.dumps({"tolerance": {"psnr": 10.0}}))
    assert run(tmp_path, noise_graph(), "--golden", str(goldens), "--update-golden")[0] == EXIT_OK
    assert json.loads((goldens / "golden.json").read_text())["tolerance"]["psnr"] == 10.0
    graph = noise_graph()
    graph["4"] = {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "clean"}}
    code, report = run(tmp_path, graph, "--golden", str(goldens))
    assert code == EXIT_GOLDEN and report["golden"]["unexpected"] == ["4_0.png"]
    del graph["3"]
    code, report = run(tmp_path, graph, "--golden", str(goldens))
    assert code == EXIT_GOLDEN and report["golden"]["missing"] == ["3_0.png"]


def test_no_goldens_or_bad_sidecar_is_a_clear_error(tmp_path, capsys):
    code, _ = run(tmp_path, noise_graph(), "--golden", str(tmp_path / "none"))
    assert code == 2 and "--update-golden" in capsys.readouterr().err
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "golden.json").write_text(json.dumps({"tolerance": {"psnrr": 30}}))
    code, _ = run(tmp_path, noise_graph(), "--golden", str(tmp_path / "bad"))
    assert code == 2 and "psnrr" in capsys.readouterr().err


class Ramp:
    RETURN_TYPES = ("LATENT", "SIGMAS", "FLOAT")
    FUNCTION = "make"
    CATEGORY = "test"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"offset": ("FLOAT", {"default": 0.0})}}

    def make(self, offset):
        samples = torch.linspace(0, 1, 2 * 4 * 8 * 8).reshape(2, 4, 8, 8) + offset
        return ({"samples": samples}, torch.tensor([14.6, 1.0, 0.0]), 0.5 + offset)


class Keep:
    RETURN_TYPES = ()
    FUNCTION = "keep"
    OUTPUT_NODE = True
    CATEGORY = "test"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"latent": ("LATENT",), "sigmas": ("SIGMAS",), "number": ("FLOAT", {"forceInput": True})}}

    def keep(self, latent, sigmas, number):
        return {}


def tensor_outputs(offset):
    classes = {"Ramp": Ramp, "Keep": Keep}
    prompt = {"1": {"class_type": "Ramp", "inputs": {"offset": offset}},
              "2": {"class_type": "Keep", "inputs": {"latent": ["1", 0], "sigmas": ["1", 1], "number": ["1", 2]}}}
    result = Runner(classes).run(prompt)
    return golden.collect(prompt, result, classes)


def test_latent_sigmas_and_numbers_are_stored_as_safetensors(tmp_path):
    outputs = tensor_outputs(0.0)
    assert list(outputs) == ["2.safetensors"]
    assert sorted(outputs["2.safetensors"].tensors) == ["latent.samples", "number", "sigmas"]
    golden.update(str(tmp_path), outputs)
    assert golden.check(str(tmp_path), tensor_outputs(0.0), str(tmp_path / "d"))["status"] == "passed"
    nudged = golden.check(str(tmp_path), tensor_outputs(1e-4), str(tmp_path / "d"))
    assert nudged["status"] == "passed"  # max |a - b| = 1e-4 <= 0.02
    shifted = golden.check(str(tmp_path), tensor_outputs(0.5), str(tmp_path / "d"))
    entry = shifted["outputs"]["2.safetensors"]
    assert shifted["status"] == "failed" and entry["tensors"]["latent.samples"]["max_abs"] == pytest.approx(0.5)
    assert entry["tensors"]["sigmas"]["pass"] and not entry["tensors"]["number"]["pass"]
    assert Image.open(entry["diff"]).size == (8, 8)  # the latent's first item, channels averaged


def test_ssim_closed_form_for_flat_images():
    """Flat images a, b: every window has zero variance, so SSIM = (2ab + C1) / (a^2 + b^2 + C1)."""
    a, b = np.full((9, 9, 3), 0.4), np.full((9, 9, 3), 0.6)
    c1 = 0.01**2
    assert golden.ssim(a, b) == pytest.approx((2 * 0.4 * 0.6 + c1) / (0.4**2 + 0.6**2 + c1), rel=1e-12)
    assert golden.ssim(a, a) == pytest.approx(1.0)


def test_ssim_matches_scikit_image():
    metrics = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(0)
    a = rng.random((20, 17, 3))
    b = np.clip(a + 0.1 * rng.standard_normal(a.shape), 0, 1)
    expected = metrics.structural_similarity(a, b, channel_axis=-1, data_range=1.0)
    assert golden.ssim(a, b) == pytest.approx(expected, rel=1e-9)


def test_outputs_sent_as_bytes_come_back_with_the_same_content(tmp_path):
    """What a worker of run --over sends for the goldens (golden.to_bytes): tensors and images unchanged."""
    code, report = run(tmp_path, noise_graph())
    assert code == EXIT_OK
    outputs = {**tensor_outputs(0.25), "3_0.png": golden.Output("3_0.png", path=report["outputs"][0])}
    (tmp_path / "back").mkdir()
    back = golden.from_bytes(golden.to_bytes(outputs), str(tmp_path / "back"))
    assert golden.hashes(back) == golden.hashes(outputs) and back["3_0.png"].path.startswith(str(tmp_path / "back"))
    assert back["2.safetensors"].tensors["latent.samples"].dtype == torch.float32
