"""noisekit inside a real ComfyUI server (skipped without one; see conftest.py).

Checks against exact answers: the probe MODEL is the exact denoiser of N(target, std^2) data, so with
std = 0 every consistent sampler must return ``target`` everywhere, and noisekit's Euler must agree with
ComfyUI's own ``euler`` on the same noise.
"""
import json
import re
from pathlib import Path

import pytest
import torch

from noisekit.nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS
from noisekit.schedules import get_sigmas

EXAMPLES = Path(__file__).resolve().parents[2] / "example_workflows"


def sampler_custom(sampler: dict, *, std=0.0, seed=42, steps=12, extra=None) -> dict:
    """SamplerCustom(probe model, noisekit karras SIGMAS, `sampler` SAMPLER) -> probe stats."""
    prompt = {
        "model": {"class_type": "ProbeAnalyticModel", "inputs": {"target": 0.25, "data_std": std, "channels": 4}},
        "cond": {"class_type": "ProbeConditioning", "inputs": {}},
        "latent": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 2}},
        "sigmas": {"class_type": "NoisekitScheduleKarras",
                   "inputs": {"steps": steps, "sigma_min": 0.0291675, "sigma_max": 14.614642, "rho": 7.0}},
        "sampler": sampler,
        "sample": {"class_type": "SamplerCustom",
                   "inputs": {"model": ["model", 0], "add_noise": True, "noise_seed": seed, "cfg": 1.0,
                              "positive": ["cond", 0], "negative": ["cond", 0], "sampler": ["sampler", 0],
                              "sigmas": ["sigmas", 0], "latent_image": ["latent", 0]}},
        "stats": {"class_type": "ProbeLatentStats", "inputs": {"latent": ["sample", 0]}},
    }
    prompt.update(extra or {})
    return prompt


def stats(entry: dict, node="stats") -> dict:
    assert entry["status"]["status_str"] == "success", json.dumps(entry["status"]["messages"])[-3000:]
    return entry["outputs"][node]["probe_stats"][0]


def test_pack_imports_without_errors(comfyui):
    log = comfyui.log.read_text().split("Starting server")[0]  # start-up only: later tests provoke errors
    import_lines = [line for line in log.splitlines() if re.search(r"seconds.*custom_nodes", line)]
    assert any(line.rstrip().endswith("noisekit") for line in import_lines), log[-3000:]
    assert not [line for line in import_lines if "IMPORT FAILED" in line], import_lines
    # ComfyUI's own audio nodes fail without torchaudio; nothing may fail in or about noisekit
    problems = [line for line in log.splitlines()
                if ("Cannot import" in line or "[ERROR]" in line or "File " in line) and "noisekit" in line.lower()]
    assert not problems, problems


def test_every_node_is_in_object_info(comfyui):
    info = comfyui.get("/object_info")
    missing = sorted(set(NODE_CLASS_MAPPINGS) - set(info))
    assert not missing, f"not registered by ComfyUI: {missing}"
    for name in NODE_CLASS_MAPPINGS:
        assert info[name]["category"].startswith("noisekit/")
        assert info[name]["display_name"] == NODE_DISPLAY_NAME_MAPPINGS[name]
        assert info[name]["python_module"] == "custom_nodes.noisekit"


@pytest.mark.parametrize("sampler", [
    {"class_type": "NoisekitSamplerEuler", "inputs": {"s_churn": 0.0, "s_tmin": 0.0, "s_tmax": 1000.0, "s_noise": 1.0}},
    {"class_type": "NoisekitSamplerDdim", "inputs": {"eta": 0.5, "s_noise": 1.0}},
    {"class_type": "NoisekitSamplerDdpm", "inputs": {"s_noise": 1.0}},
    {"class_type": "NoisekitSampler", "inputs": {"sampler_name": "unipc", "eta": -1.0, "s_noise": 1.0}},
    {"class_type": "NoisekitSampler", "inputs": {"sampler_name": "dpmpp_3m_sde", "eta": -1.0, "s_noise": 1.0}},
    {"class_type": "NoisekitSamplerPcSigma", "inputs": {"order": 4}},
    {"class_type": "NoisekitSamplerAnnealedMean", "inputs": {"draws": 1}},
], ids=lambda s: s["inputs"].get("sampler_name", s["class_type"]))
def test_samplercustom_with_noisekit_sigmas_and_sampler_is_exact(comfyui, sampler):
    result = stats(comfyui.run(sampler_custom(sampler)))
    assert result["shape"] == [2, 4, 8, 8]
    assert result["mean"] == pytest.approx(0.25, abs=1e-5)
    assert result["std"] < 1e-5


def test_noisekit_euler_equals_comfyui_euler(comfyui):
    ours = stats(comfyui.run(sampler_custom(
        {"class_type": "NoisekitSamplerEuler", "inputs": {"s_churn": 0.0, "s_tmin": 0.0, "s_tmax": 1000.0,
                                                          "s_noise": 1.0}}, std=0.5)))
    theirs = stats(comfyui.run(sampler_custom(
        {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}}, std=0.5)))
    assert max(abs(a - b) for a, b in zip(ours["values"], theirs["values"])) < 1e-5
    assert 0.3 < ours["std"] < 0.5  # 12 Euler steps undershoot the exact 0.5 a little


def test_samplercustomadvanced_takes_noisekit_noise(comfyui):
    prompt = sampler_custom({"class_type": "NoisekitSampler",
                             "inputs": {"sampler_name": "dpmpp_2m", "eta": -1.0, "s_noise": 1.0}})
    prompt["noise"] = {"class_type": "NoisekitNoise", "inputs": {"noise_seed": 7}}
    prompt["guider"] = {"class_type": "BasicGuider", "inputs": {"model": ["model", 0], "conditioning": ["cond", 0]}}
    prompt["sample"] = {"class_type": "SamplerCustomAdvanced",
                        "inputs": {"noise": ["noise", 0], "guider": ["guider", 0], "sampler": ["sampler", 0],
                                   "sigmas": ["sigmas", 0], "latent_image": ["latent", 0]}}
    result = stats(comfyui.run(prompt))
    assert result["mean"] == pytest.approx(0.25, abs=1e-5) and result["std"] < 1e-5


def test_bad_sigmas_input_is_named_in_the_error(comfyui):
    prompt = sampler_custom({"class_type": "NoisekitSamplerEuler", "inputs": {
        "s_churn": 0.0, "s_tmin": 0.0, "s_tmax": 1000.0, "s_noise": 1.0}})
    prompt["sigmas"]["inputs"].update(sigma_min=20.0)  # above sigma_max
    entry = comfyui.run(prompt)
    assert entry["status"]["status_str"] == "error"
    error = next(m[1] for m in entry["status"]["messages"] if m[0] == "execution_error")
    assert error["node_type"] == "NoisekitScheduleKarras"
    assert "sigma_min" in error["exception_message"]


def test_schedule_route_serves_the_python_schedule(comfyui):
    status, body = comfyui.get_status("/noisekit/sigmas?type=NoisekitScheduleKarras&steps=7&sigma_min=0.1"
                                      "&sigma_max=10&rho=7")
    assert status == 200
    expected = get_sigmas("karras", 7, sigma_min=0.1, sigma_max=10.0, rho=7.0)
    assert torch.allclose(torch.tensor(body["sigmas"], dtype=torch.float64), expected.double(), rtol=1e-6)
    status, body = comfyui.get_status("/noisekit/sigmas?type=NoisekitScheduleKarras&steps=abc")
    assert status == 400 and "steps" in body["error"]


def test_denoise_example_runs_in_comfyui(comfyui):
    """The README's main job, in ComfyUI: bundled model, photo denoise, SaveImage."""
    prompt = json.loads((EXAMPLES / "api" / "denoise_photo.json").read_text())
    for node in prompt.values():
        if node["class_type"] == "LoadImage":
            name = node["inputs"]["image"]
            (comfyui.base / "input" / name).write_bytes((EXAMPLES / "input" / name).read_bytes())
    entry = comfyui.run(prompt, timeout=300)
    assert entry["status"]["status_str"] == "success", entry["status"]["messages"]
    saved = [img for out in entry["outputs"].values() for img in out.get("images", [])]
    assert saved and all((comfyui.base / "output" / img["subfolder"] / img["filename"]).is_file() for img in saved)


def test_tune_sigmas_through_a_guider_feeds_samplercustom(comfyui):
    """Tune Sigmas on a GUIDER (ComfyUI's own set-up, the model's 4-channel latent) gives SIGMAS SamplerCustom
    runs; on the point-mass model every schedule lands on the answer."""
    euler = {"class_type": "NoisekitSamplerEuler", "inputs": {"s_churn": 0.0, "s_tmin": 0.0, "s_tmax": 1000.0,
                                                              "s_noise": 1.0}}
    prompt = sampler_custom(euler, steps=4, extra={
        "guider": {"class_type": "BasicGuider", "inputs": {"model": ["model", 0], "conditioning": ["cond", 0]}},
        "tune": {"class_type": "NoisekitTuneSigmas", "inputs": {
            "sigmas": ["base", 0], "sampler": ["sampler", 0], "seed": 1, "width": 32, "height": 24,
            "batch_size": 2, "guider": ["guider", 0]}},
        "base": {"class_type": "NoisekitScheduleKarras",
                 "inputs": {"steps": 4, "sigma_min": 0.0291675, "sigma_max": 14.614642, "rho": 7.0}}})
    prompt["model"]["inputs"]["data_std"] = 0.5
    prompt["sample"]["inputs"]["sigmas"] = ["tune", 0]
    entry = comfyui.run(prompt)
    result = stats(entry)
    assert result["shape"] == [2, 4, 8, 8]
    text = entry["outputs"]["tune"]["text"][0]
    levels = [float(v) for v in text.split("levels ")[1].split(", ")]
    assert len(levels) == 5 and levels[0] == pytest.approx(14.614642, rel=1e-3) and levels[-1] == 0
    ui = entry["outputs"]["tune"]  # what the web extension draws: the tuned levels over the given ones
    assert ui["sigmas"] == pytest.approx(levels, rel=1e-3, abs=1e-4) and len(ui["given"]) == 5
    prompt["sampler"] = {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}}
    error = next(m[1] for m in comfyui.run(prompt)["status"]["messages"] if m[0] == "execution_error")
    assert error["exception_message"].startswith("Tune Sigmas (noisekit): input 'sampler': connect a noisekit")
