"""Record ComfyUI's samplers on an exact Gaussian mixture, for tests/samplers/comfyui_reference.json
(so CI compares noisekit's same-named samplers with ComfyUI's without a ComfyUI), and run them for
``python -m noisekit.bench samplers``.

Run it with ComfyUI's own Python, from anywhere (nothing of ComfyUI is copied or written):

    /path/to/comfy-venv/bin/python bench/comfyui_reference.py /path/to/ComfyUI [--out FILE]

noisekit is imported from this checkout (it need not be installed in ComfyUI's venv), before
any ``comfy`` module, so it stays a plain library. Everything runs in float64 on the CPU; the
stochastic samplers get a fixed noise per step through their ``noise_sampler`` argument.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
from pathlib import Path
from types import ModuleType, SimpleNamespace

import torch

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "tests" / "samplers" / "comfyui_reference.json"

# label: (ComfyUI function, its options, noisekit sampler, its options)
DETERMINISTIC = {
    "euler": ("sample_euler", {}, "euler", {}),
    "ddim": ("sample_euler", {}, "ddim", {}),  # ComfyUI's ddim is its euler
    "heun": ("sample_heun", {}, "heun", {}),
    "dpm_2": ("sample_dpm_2", {}, "dpm_2", {}),
    "lms": ("sample_lms", {}, "lms", {}),
    "ipndm": ("sample_ipndm", {}, "ipndm", {}),
    "ipndm_v": ("sample_ipndm_v", {}, "ipndm_v", {}),
    "ipndm_v order 2": ("sample_ipndm_v", {"max_order": 2}, "ipndm_v", {"order": 2}),
    "dpmpp_2m": ("sample_dpmpp_2m", {}, "dpmpp_2m", {}),
    "res_multistep": ("sample_res_multistep", {}, "res_multistep", {}),
    "uni_pc": ("uni_pc.sample_unipc", {}, "unipc", {"variant": "bh1"}),
    "uni_pc_bh2": ("uni_pc.sample_unipc_bh2", {}, "unipc", {"variant": "bh2"}),
}
STOCHASTIC = {
    "euler_ancestral": ("sample_euler_ancestral", {}, "euler_ancestral", {}),
    "ddpm": ("sample_ddpm", {}, "ddpm", {}),
    "dpmpp_2m_sde": ("sample_dpmpp_2m_sde", {}, "dpmpp_2m_sde", {}),
    "dpmpp_2m_sde heun": ("sample_dpmpp_2m_sde", {"solver_type": "heun"}, "dpmpp_2m_sde", {"solver_type": "heun"}),
    "dpmpp_3m_sde": ("sample_dpmpp_3m_sde", {}, "dpmpp_3m_sde", {}),
}
# the peers of the accuracy benchmark (ODE samplers): label -> ComfyUI function
PEER_FUNCTIONS = {label: DETERMINISTIC[label][0] for label in (
    "euler", "heun", "dpm_2", "lms", "ipndm", "ipndm_v", "dpmpp_2m", "res_multistep", "uni_pc", "uni_pc_bh2")}
PEER_FUNCTIONS["deis"] = "sample_deis"


def import_noisekit():
    """noisekit from this checkout, under its package name, whatever the folder is called."""
    link = Path(tempfile.mkdtemp()) / "noisekit"
    link.symlink_to(HERE.parent, target_is_directory=True)
    sys.path.insert(0, str(link.parent))
    return importlib.import_module("noisekit.models.analytic"), importlib.import_module("noisekit.schedules")


def comfy_modules(root: str):
    sys.path.insert(0, root)
    try:
        import torchsde  # noqa: F401
    except ImportError:  # only ComfyUI's Brownian-tree noise needs it; the stochastic runs here get fixed noise
        sys.modules["torchsde"] = ModuleType("torchsde")
    importlib.import_module("comfy.cli_args").args.cpu = True  # no GPU probing
    sampling = importlib.import_module("comfy.k_diffusion.sampling")
    return sampling, importlib.import_module("comfy.extra_samplers.uni_pc"), importlib.import_module(
        "comfy.model_sampling")


class ComfyModel:
    """An exact denoiser dressed as the wrapped model ComfyUI's samplers receive (an eps model)."""

    def __init__(self, denoiser, model_sampling):
        self.denoiser = denoiser
        ms = type("ExactEPS", (model_sampling.EPS,), {"sigma_data": 1.0})()
        self.inner_model = SimpleNamespace(inner_model=SimpleNamespace(model_sampling=ms),
                                           model_patcher=SimpleNamespace(get_model_object=lambda name: ms))

    def __call__(self, x, sigma, **kwargs):
        return self.denoiser(x, sigma)


def run_comfy(modules, fn_name, model, x, sigmas, options, noise=None, callback=None):
    sampling, uni_pc, _ = modules
    owner, name = (uni_pc, fn_name.split(".")[1]) if fn_name.startswith("uni_pc.") else (sampling, fn_name)
    if noise is not None:
        options = {**options, "noise_sampler": noise}
    # ComfyUI's uni_pc writes into the sigmas it is given: hand it a copy
    return getattr(owner, name)(model, x.clone(), sigmas.clone(), extra_args={}, disable=True, callback=callback,
                                **options)


def unipc_states(modules, fn_name, model, x, sigmas):
    """ComfyUI's uni_pc states at sigmas[1:-2], in VE scale: its callback reports x / sqrt(1 + sigma^2),
    first the start, then after each step but the last two, which it takes in one call."""
    seen = []
    run_comfy(modules, fn_name, model, x, sigmas, {}, callback=lambda d: seen.append(d["x"].clone()))
    return [(state * (1 + float(s) ** 2) ** 0.5).tolist() for state, s in zip(seen[1:-1], sigmas[1:-2])]


def step_noise(sigmas, shape, seed=5):
    """noise_sampler(sigma, sigma_next): one fixed unit-normal draw per step, keyed by sigma."""
    g = torch.Generator().manual_seed(seed)
    table = {float(s): torch.randn(shape, generator=g, dtype=torch.float64) for s in sigmas[:-1]}
    return table, lambda sigma, sigma_next: table[float(sigma)]


def record(root: str, out: Path):
    analytic, schedules = import_noisekit()
    modules = comfy_modules(root)
    model = analytic.mixture(3, 4, (0.1, 0.4), seed=3)
    sigmas = schedules.get_sigmas("karras", 8, sigma_min=0.0291675, sigma_max=14.614642)[:-1]  # ends at sigma_min
    x = analytic.mixture_start(model, 2, float(sigmas[0]), seed=4)
    cmodel = ComfyModel(model, modules[2])
    table, noise = step_noise(sigmas, x.shape)
    outputs = {}
    for label, (fn, options, ours, our_options) in {**DETERMINISTIC, **STOCHASTIC}.items():
        z = noise if label in STOCHASTIC else None
        outputs[label] = {"comfyui": fn, "comfyui_options": options, "noisekit": ours, "noisekit_options": our_options,
                          "x": run_comfy(modules, fn, cmodel, x, sigmas, options, z).tolist()}
        if fn.startswith("uni_pc."):
            outputs[label]["states"] = unipc_states(modules, fn, cmodel, x, sigmas)
    data = {"about": "ComfyUI's samplers on an exact 3-d Gaussian mixture, float64 (bench/comfyui_reference.py)",
            "means": model.means.tolist(), "stds": model.stds.tolist(), "weights": model.log_weights.exp().tolist(),
            "x": x.tolist(), "sigmas": sigmas.tolist(), "noise": [table[float(s)].tolist() for s in sigmas[:-1]],
            "outputs": outputs}
    out.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {out} ({len(outputs)} samplers)")


def peers(root: str, request: Path):
    """Run ComfyUI's samplers on the runs in ``request``, a torch file written by bench/samplers.py:
    {"models": {problem: denoiser}, "starts": {problem: x}, "runs": [(problem, label, sigmas)]};
    save the end states, in the order of the runs, next to it (``.out.pt``)."""
    import_noisekit()
    modules = comfy_modules(root)
    job = torch.load(request, weights_only=False)
    models = {name: ComfyModel(m, modules[2]) for name, m in job["models"].items()}
    ends = [run_comfy(modules, PEER_FUNCTIONS[label], models[problem], job["starts"][problem], sigmas, {})
            for problem, label, sigmas in job["runs"]]
    torch.save(ends, request.with_suffix(".out.pt"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("comfyui", help="a ComfyUI checkout (the folder with main.py)")
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the recorded values")
    parser.add_argument("--peers", type=Path, help="run the benchmark's peers on this request file instead")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)  # ComfyUI's uni_pc builds its coefficients in the default dtype
    if args.peers:
        peers(args.comfyui, args.peers)
    else:
        record(args.comfyui, args.out)


if __name__ == "__main__":
    main()
