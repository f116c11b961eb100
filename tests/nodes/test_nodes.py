"""Every node class is valid for ComfyUI; nodes compute exactly what the core computes."""
import math
import re
import pathlib
import sys

import pytest
import torch

import noisekit
from noisekit import progress
from noisekit.models.analytic import GaussianDenoiser, mixture
from noisekit.nodes import adapter
from noisekit.nodes.inputs import NodeError
from noisekit.samplers import SAMPLERS, Sampler, add_noise, unit_noise
from noisekit.schedules import MODEL_PRESETS, SCHEDULES, SIGMA_TOOLS, get_sigmas

NODES = noisekit.NODE_CLASS_MAPPINGS
SOCKETS = {"IMAGE", "MASK", "LATENT", "MODEL", "SIGMAS", "SAMPLER", "GUIDER", "VAE", "NOISE", "CONDITIONING"}
WIDGETS = {"INT", "FLOAT", "STRING", "BOOLEAN"}
STUB = pathlib.Path(__file__).parent / "comfy_stub"


def _inputs(cls):
    spec = cls.INPUT_TYPES()
    assert set(spec) <= {"required", "optional", "hidden"}
    return {**spec.get("required", {}), **spec.get("optional", {})}


# ---- declarations ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(NODES))
def test_node_declaration_is_valid_for_comfyui(name):
    cls = NODES[name]
    assert callable(getattr(cls(), cls.FUNCTION))
    assert cls.CATEGORY.startswith("noisekit/") and cls.DESCRIPTION
    assert len(cls.RETURN_TYPES) == len(cls.RETURN_NAMES) == len(cls.OUTPUT_TOOLTIPS)
    assert all(isinstance(t, str) and t for t in cls.OUTPUT_TOOLTIPS)
    assert set(cls.RETURN_TYPES) <= SOCKETS
    assert name in noisekit.NODE_DISPLAY_NAME_MAPPINGS
    for input_name, (kind, opts) in _inputs(cls).items():
        assert opts.get("tooltip"), (name, input_name)
        if isinstance(kind, list):
            assert kind and all(isinstance(c, str) for c in kind) and opts.get("default", kind[0]) in kind
        elif kind in ("INT", "FLOAT"):
            assert opts.get("min", -math.inf) <= opts["default"] <= opts.get("max", math.inf), (name, input_name)
        else:
            assert kind in WIDGETS | SOCKETS, (name, input_name, kind)
        if kind == "FLOAT":  # the frontend rounds an edited value to `round` (default: step)
            grid = opts.get("round", opts.get("step", 0.01))
            assert grid is False or abs(opts["default"] / grid - round(opts["default"] / grid)) < 1e-6, (name, input_name)


def test_display_names_are_unique_and_no_schedule_node_needs_a_model():
    names = list(noisekit.NODE_DISPLAY_NAME_MAPPINGS.values())
    assert len(names) == len(set(names))
    for name, cls in NODES.items():
        if cls.CATEGORY in ("noisekit/schedules", "noisekit/sigmas"):
            assert all(kind != "MODEL" for kind, _ in _inputs(cls).values()), name


def test_every_registry_entry_has_its_node_with_its_knobs():
    for entry in SCHEDULES:
        cls = NODES[f"NoisekitSchedule{''.join(p.capitalize() for p in entry.name.split('_'))}"]
        assert list(_inputs(cls)) == [p.name for p in entry.params]
    for entry in SAMPLERS:
        cls = NODES[f"NoisekitSampler{''.join(p.capitalize() for p in entry.name.split('_'))}"]
        assert list(_inputs(cls)) == [p.name for p in entry.params]
    assert NODES["NoisekitSchedule"].INPUT_TYPES()["required"]["schedule"][0] == SCHEDULES.names()
    assert NODES["NoisekitSampler"].INPUT_TYPES()["required"]["sampler_name"][0] == SAMPLERS.names()
    assert len([n for n in NODES if n.startswith("NoisekitSigmas")]) == len(SIGMA_TOOLS)


def _tiny_inputs(cls):
    args = {}
    for input_name, (kind, opts) in cls.INPUT_TYPES()["required"].items():
        if isinstance(kind, list) or kind in WIDGETS:
            args[input_name] = opts.get("default", kind[0] if isinstance(kind, list) else None)
        elif kind == "SIGMAS":
            args[input_name] = get_sigmas("karras", 6).float()
        elif kind == "IMAGE":
            args[input_name] = torch.rand(1, 8, 8, 3)
        elif kind == "MODEL":
            args[input_name] = GaussianDenoiser(0.0, 0.5)
        elif kind == "SAMPLER":
            args[input_name] = Sampler("euler")
        else:
            pytest.fail(f"no test value for {kind}")
    return args


@pytest.mark.parametrize("name", sorted(n for n in NODES if "Photo" not in n and n not in ("NoisekitLoadModel",
                                                                                            "NoisekitTuneSigmas",
                                                                                            "NoisekitTuneSampler",
                                                                                            "NoisekitLoadSamplerPreset")))
def test_node_runs_with_defaults_and_returns_its_types(name):
    cls = NODES[name]
    args = _tiny_inputs(cls)
    if name == "NoisekitSigmasFlowShift":  # flow sigmas lie in [0, 1]
        args["sigmas"] = get_sigmas("flow", 6).float()
    if name.startswith("NoisekitSigmasSplit") and "step" in args:
        args["step"] = 2
    if name == "NoisekitSigmasSplice":
        args["sigmas"], args["other"] = args["sigmas"][:4], args["other"][3:]
    if name == "NoisekitForwardNoise":
        args["image"] = torch.rand(1, 8, 8, 3)
    out = getattr(cls(), cls.FUNCTION)(**args)
    out = out["result"] if isinstance(out, dict) else out
    assert isinstance(out, tuple) and len(out) == len(cls.RETURN_TYPES)
    for value, kind in zip(out, cls.RETURN_TYPES):
        if kind == "SIGMAS":
            assert value.dtype == torch.float32 and value.ndim == 1 and value.device.type == "cpu"
        elif kind == "IMAGE":
            assert value.dtype == torch.float32 and value.ndim == 4 and value.shape[-1] == 3
            assert 0 <= float(value.min()) <= float(value.max()) <= 1
        elif kind == "LATENT":
            assert value["samples"].ndim == 4
        elif kind == "SAMPLER":
            assert isinstance(value, Sampler)
        elif kind == "NOISE":
            assert isinstance(value.seed, int) and callable(value.generate_noise)


# ---- schedules and sigma tools ---------------------------------------------------------------

@pytest.mark.parametrize("entry", list(SCHEDULES), ids=lambda e: e.name)
def test_schedule_nodes_equal_the_core(entry):
    cls = NODES[f"NoisekitSchedule{''.join(p.capitalize() for p in entry.name.split('_'))}"]
    params = {**entry.defaults(), "steps": 7}
    sig, = cls().make(**params)
    assert sig.dtype == torch.float32
    torch.testing.assert_close(sig, entry(**params).float(), rtol=0, atol=0)


def test_schedule_combo_node():
    node = NODES["NoisekitSchedule"]()
    sig, = node.make("karras", 9, 0.1, 10.0)
    torch.testing.assert_close(sig, get_sigmas("karras", 9, sigma_min=0.1, sigma_max=10.0).float(), rtol=0, atol=0)
    edm = MODEL_PRESETS["edm"]
    sig, = node.make("exponential", 5, 0.5, 5.0, preset="edm")
    torch.testing.assert_close(sig, get_sigmas("exponential", 5, sigma_min=edm["sigma_min"],
                                               sigma_max=edm["sigma_max"]).float(), rtol=0, atol=0)
    # BasicScheduler's denoise rule: the last steps + 1 sigmas of a steps / denoise schedule
    sig, = node.make("karras", 4, 0.1, 10.0, denoise=0.5)
    torch.testing.assert_close(sig, get_sigmas("karras", 8, sigma_min=0.1, sigma_max=10.0)[-5:].float())
    assert len(node.make("karras", 4, 0.1, 10.0, denoise=0.0)[0]) == 0
    # flow schedules keep sigma in [0, 1]; discrete ones take no range
    sig, = node.make("flow", 6, 0.0291675, 14.614642)
    torch.testing.assert_close(sig, get_sigmas("flow", 6).float(), rtol=0, atol=0)
    sig, = node.make("normal", 6, 0.5, 5.0, preset="edm")
    torch.testing.assert_close(sig, get_sigmas("normal", 6).float(), rtol=0, atol=0)


def test_sigma_tool_nodes():
    sig = get_sigmas("karras", 9, sigma_min=0.1, sigma_max=10.0).float()
    hi, lo = NODES["NoisekitSigmasSplit"]().apply(sig, step=3)
    assert torch.equal(hi, sig[:4]) and torch.equal(lo, sig[3:])
    hi, lo = NODES["NoisekitSigmasSplitDenoise"]().apply(sig, denoise=1 / 3)
    assert torch.equal(lo, sig[-4:]) and torch.equal(hi, sig[:-3])
    joined, = NODES["NoisekitSigmasSplice"]().apply(hi, other=lo)
    assert torch.equal(joined, sig)
    flipped, = NODES["NoisekitSigmasFlip"]().apply(sig)
    assert torch.equal(flipped[1:], sig.flip(0)[1:]) and float(flipped[0]) == pytest.approx(1e-4)
    first, = NODES["NoisekitSigmasSetFirst"]().apply(sig, sigma=20.0)
    assert float(first[0]) == 20.0 and torch.equal(first[1:], sig[1:])
    shifted, = NODES["NoisekitSigmasFlowShift"]().apply(torch.tensor([1.0, 0.5, 0.0]), shift=3.0)
    torch.testing.assert_close(shifted, torch.tensor([1.0, 0.75, 0.0]))  # 3 * 0.5 / (1 + 2 * 0.5)


def test_sigma_plot_draws_each_schedule_in_its_colour():
    node = NODES["NoisekitSigmaPlot"]()
    plot, = node.plot(get_sigmas("karras", 10).float(), 512, 288, sigmas_2=get_sigmas("exponential", 10).float(),
                      labels="karras, exponential")
    assert plot.shape == (1, 288, 512, 3)
    pixels = (plot[0] * 255).round().reshape(-1, 3)
    for colour in ((31, 119, 180), (255, 127, 14)):
        assert (pixels == torch.tensor(colour, dtype=pixels.dtype)).all(-1).sum() > 50
    assert not (pixels == torch.tensor((44, 160, 44), dtype=pixels.dtype)).all(-1).any()  # no third series


# ---- noise and forward noise -----------------------------------------------------------------

def test_forward_noise_closed_forms():
    image = torch.rand(2, 4, 4, 3)
    x0 = image.movedim(-1, 1) * 2 - 1
    node = NODES["NoisekitForwardNoise"]()
    for form, expect in [("ve", lambda n: x0 + 0.7 * n), ("vp", lambda n: x0 / 1.49**0.5 + 0.7 / 1.49**0.5 * n),
                         ("flow", lambda n: 0.3 * x0 + 0.7 * n)]:
        shown, noisy, noise = node.apply(0.7, 5, form, image=image)
        torch.testing.assert_close(noisy["samples"], expect(noise["samples"]))
        assert torch.equal(noise["samples"], unit_noise(x0.shape, 5))
        torch.testing.assert_close(shown, ((noisy["samples"] + 1) / 2).clamp(0, 1).movedim(1, -1))
    sig = get_sigmas("karras", 4).float()
    latent = torch.randn(1, 4, 4, 4)
    _, noisy, noise = node.apply(0.0, 5, "ve", latent={"samples": latent}, sigmas=sig, step=2)
    assert torch.equal(noisy["samples"], latent + sig[2] * noise["samples"])


def test_noise_strip_frames():
    sig = torch.tensor([2.0, 0.5, 0.0])
    image = torch.rand(1, 4, 4, 3)
    strip, frames = NODES["NoisekitNoiseStrip"]().apply(image, sig, 1, "ve")
    assert frames.shape == (3, 4, 4, 3) and strip.shape == (1, 4, 3 * 4, 3)  # one image: frames left to right
    x0, eps = image.movedim(-1, 1) * 2 - 1, unit_noise((1, 3, 4, 4), 1)
    for k, s in enumerate(sig):
        torch.testing.assert_close(frames[k], ((x0 + s * eps + 1) / 2).clamp(0, 1)[0].movedim(0, -1))
        assert torch.equal(strip[0, :, 4 * k:4 * k + 4], frames[k])
    torch.testing.assert_close(frames[-1], image[0])


def test_noise_node_is_batch_invariant():
    noise, = NODES["NoisekitNoise"]().make(42)
    four = noise.generate_noise({"samples": torch.zeros(4, 3, 8, 8)})
    one = adapter.SeededNoise(45).generate_noise({"samples": torch.zeros(1, 3, 8, 8)})
    assert noise.seed == 42 and four.dtype == torch.float32 and four.device.type == "cpu"
    assert torch.equal(four[3], one[0]) and torch.equal(four[:1], adapter.SeededNoise(42).generate_noise(
        {"samples": torch.zeros(1, 3, 8, 8)}))
    # ComfyUI's batch_index (a latent picked from a batch) keeps that item's noise
    picked = noise.generate_noise({"samples": torch.zeros(2, 3, 8, 8), "batch_index": [3, 1]})
    assert torch.equal(picked[0], four[3]) and torch.equal(picked[1], four[1])


# ---- sampling --------------------------------------------------------------------------------

def test_sample_node_hits_a_point_mass_exactly():
    model = GaussianDenoiser(0.2, 0.0)  # model space 0.2 -> image 0.6
    sigmas, = NODES["NoisekitScheduleKarras"]().make(steps=8, sigma_min=0.01, sigma_max=10.0, rho=7.0)
    for node, opts in [("NoisekitSamplerDpmpp2mSde", dict(eta=1.0, s_noise=1.0, brownian=True,
                                                            solver_type="midpoint")),
                       ("NoisekitSamplerDdpm", dict(s_noise=1.0)), ("NoisekitSamplerUnipc", dict(variant="bh2"))]:
        sampler, = NODES[node]().make(**opts)
        image, latent = NODES["NoisekitSample"]().run(model, sigmas, sampler, seed=1, width=16, height=8, batch_size=2)
        assert image.shape == (2, 8, 16, 3) and latent["samples"].shape == (2, 3, 8, 16)
        torch.testing.assert_close(image, torch.full_like(image, 0.6))
        torch.testing.assert_close(latent["samples"], torch.full_like(latent["samples"], 0.2))


def test_sample_node_follows_the_exact_gaussian_ode():
    """Euler on N(0.1, 0.3^2) data from a start image at sigma 2 vs the closed-form ODE solution."""
    model = GaussianDenoiser(0.1, 0.3)
    image = torch.rand(1, 4, 4, 3)
    x0 = image.movedim(-1, 1) * 2 - 1
    sigmas = torch.cat([torch.linspace(2.0, 0.05, 400, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)])
    _, out = NODES["NoisekitSample"]().run(model, sigmas, Sampler("euler"), seed=3, image=image)
    noisy = x0.double() + 2.0 * unit_noise(x0.shape, 3).double()
    exact = model.ode_solution(noisy, 2.0, 0.05)
    exact = model(exact, torch.tensor([0.05], dtype=torch.float64))  # the last Euler step jumps to D
    torch.testing.assert_close(out["samples"].double(), exact, atol=5e-3, rtol=0)


def test_sample_node_inpaint_keeps_the_known_region():
    model = GaussianDenoiser(0.0, 0.0)
    image = torch.rand(1, 8, 8, 3)
    mask = torch.zeros(1, 8, 8)
    mask[:, 2:5, 2:5] = 1
    out, latent = NODES["NoisekitSample"]().run(model, get_sigmas("karras", 5).float(), Sampler("euler"), 0,
                                                image=image, mask=mask)
    keep = mask[0] == 0
    torch.testing.assert_close(out[0][keep], image[0][keep])
    assert torch.equal(latent["samples"][0].movedim(0, -1)[keep], (image * 2 - 1)[0][keep])
    torch.testing.assert_close(out[0][~keep], torch.full_like(out[0][~keep], 0.5))
    # the same through a LATENT start carrying ComfyUI's noise_mask [B, 1, H, W]
    start = {"samples": image.movedim(-1, 1) * 2 - 1, "noise_mask": mask[:, None]}
    _, again = NODES["NoisekitSample"]().run(model, get_sigmas("karras", 5).float(), Sampler("euler"), 0, latent=start)
    assert torch.equal(again["samples"], latent["samples"])


def test_sample_node_denoise_runs_the_tail_of_the_schedule():
    model = GaussianDenoiser(0.1, 0.3)
    image = torch.rand(1, 4, 4, 3)
    sigmas = get_sigmas("karras", 8, sigma_min=0.01, sigma_max=10.0)
    node = NODES["NoisekitSample"]()
    _, half = node.run(model, sigmas, Sampler("euler"), 4, image=image, denoise=0.5)
    _, tail = node.run(model, sigmas[4:], Sampler("euler"), 4, image=image)
    assert torch.equal(half["samples"], tail["samples"])
    _, none = node.run(model, sigmas, Sampler("euler"), 4, image=image, denoise=0.0)
    assert torch.equal(none["samples"], image.movedim(-1, 1) * 2 - 1)


@pytest.mark.parametrize("text", ["0, 0", "1e-45, 0", "0.001, 0", "0.5, 0.5"])
def test_sample_node_refuses_a_schedule_that_would_generate_a_flat_picture(text):
    """From noise at a level below half an 8-bit step (or with no step) the result is the grey start: refused,
    naming the input; a schedule of zeros on a start image returns that image."""
    sigmas = torch.tensor([float(v) for v in text.split(",")])  # as Custom Sigmas gives them
    with pytest.raises(NodeError, match=r"Sample \(noisekit\): input 'sigmas': generating from noise needs"):
        NODES["NoisekitSample"]().run(GaussianDenoiser(0.0, 0.5), sigmas, Sampler("euler"), 0, width=8, height=8)
    if text == "0, 0":  # no work on a start: the start comes back
        image = torch.rand(1, 8, 8, 3)
        out, _ = NODES["NoisekitSample"]().run(GaussianDenoiser(0.0, 0.5), sigmas, Sampler("euler"), 0, image=image)
        torch.testing.assert_close(out, image)


def test_sample_node_refuses_work_beyond_the_memory_budget_before_allocating(monkeypatch):
    """The issue's case (4096 x 4096, batch 64: 12.9 GB for the state alone) is refused before the first tensor;
    with the bundled network its activations count too."""
    from noisekit.models.loader import load_model

    model = GaussianDenoiser(0.0, 0.5)
    sigmas = get_sigmas("karras", 4)
    allocated = []
    monkeypatch.setattr(torch, "zeros", lambda *a, **k: allocated.append(a) or pytest.fail("allocated"))
    with pytest.raises(ValueError, match=r"Sample \(noisekit\): sampling \(64, 3, 4096, 4096\) would need"):
        NODES["NoisekitSample"]().run(model, sigmas, Sampler("euler"), 0, width=4096, height=4096, batch_size=64)
    monkeypatch.undo()
    monkeypatch.setenv("NOISEKIT_MEMORY_BUDGET", "1G")  # the state (0.1 GiB) fits, the network's activations not:
    with pytest.raises(ValueError, match="would need about 2.6 GB"):  # (20 x 32 x 4 + 10 x 3 x 4) B x 2^20 pixels
        NODES["NoisekitSample"]().run(load_model(), sigmas, Sampler("euler"), 0, width=512, height=512, batch_size=4)
    assert model.calls == 0 and not allocated


def test_sample_node_reports_each_step_and_stops_between_steps():
    model = GaussianDenoiser(0.0, 0.5)
    sigmas = get_sigmas("karras", 6)
    seen = []
    old = progress.set_reporter(seen.append)
    try:
        NODES["NoisekitSample"]().run(model, sigmas, Sampler("euler"), 0, width=8, height=8)
        assert [e["value"] for e in seen] == [1, 2, 3, 4, 5, 6] and seen[-1]["max"] == 6
        model.calls = 0
        progress.interrupt()
        with pytest.raises(progress.Interrupted):
            NODES["NoisekitSample"]().run(model, sigmas, Sampler("euler"), 0, width=8, height=8)
        assert model.calls == 1  # stopped after the first step
    finally:
        progress.clear_interrupt()
        progress.set_reporter(old)


# ---- errors ----------------------------------------------------------------------------------

def test_errors_name_node_and_input():
    sig = get_sigmas("karras", 3).float()
    cases = [
        (lambda: NODES["NoisekitScheduleKarras"]().make(steps=0, sigma_min=0.1, sigma_max=10.0, rho=7.0),
         r"Schedule karras \(noisekit\).*steps"),
        (lambda: NODES["NoisekitSchedule"]().make("karras", 5, 10.0, 0.1), r"Schedule \(noisekit\).*sigma_min"),
        (lambda: NODES["NoisekitForwardNoise"]().apply(1.0, 0, "ve"), r"Forward Noise \(noisekit\): input 'image'"),
        (lambda: NODES["NoisekitForwardNoise"]().apply(2.0, 0, "flow", image=torch.rand(1, 4, 4, 3)),
         r"input 'sigma'.*flow"),
        (lambda: NODES["NoisekitForwardNoise"]().apply(1.0, 0, "ve", latent={"samples": torch.zeros(3, 4)}),
         r"input 'latent'"),
        (lambda: NODES["NoisekitForwardNoise"]().apply(1.0, 0, "ve", image=torch.rand(1, 4, 4, 3), sigmas=sig, step=9),
         r"input 'step'"),
        (lambda: NODES["NoisekitNoiseStrip"]().apply(torch.rand(4, 4, 3), sig, 0, "ve"), r"input 'image'"),
        (lambda: NODES["NoisekitSample"]().run(GaussianDenoiser(), sig, Sampler("euler"), 0,
                                               image=torch.rand(1, 8, 8, 3), mask=torch.ones(1, 4, 4)),
         r"Sample \(noisekit\): input 'mask'.*scale the mask"),
        (lambda: NODES["NoisekitSample"]().run(GaussianDenoiser(), sig, Sampler("euler"), 0,
                                               image=torch.rand(2, 8, 8, 3), mask=torch.ones(3, 8, 8)),
         r"input 'mask'.*batch of 2"),
        (lambda: NODES["NoisekitSample"]().run(object(), sig, Sampler("euler"), 0), r"input 'model'"),
        (lambda: NODES["NoisekitSample"]().run(GaussianDenoiser(), sig, object(), 0), r"input 'sampler'"),
        (lambda: NODES["NoisekitSample"]().run(GaussianDenoiser(), torch.ones(2, 2), Sampler("euler"), 0),
         r"input 'sigmas'"),
        (lambda: NODES["NoisekitSample"]().run(GaussianDenoiser(), sig, Sampler("euler"), 0, denoise=0.5),
         r"input 'denoise'"),
        (lambda: NODES["NoisekitSample"]().run(GaussianDenoiser(), sig, Sampler("euler"), 0,
                                               image=torch.rand(1, 8, 8, 3), latent={"samples": torch.zeros(1, 3, 8, 8)}),
         r"input 'latent'.*not both"),
        (lambda: NODES["NoisekitSample"]().run(GaussianDenoiser(noise_form="flow"), sig, Sampler("euler"), 0),
         r"input 'sigmas'.*flow"),
        (lambda: NODES["NoisekitSigmasSplice"]().apply(sig, other=torch.tensor([float("nan")])), r"input 'other'"),
        (lambda: NODES["NoisekitSigmaPlot"]().plot(sig, sigmas_3=torch.zeros(3)), r"input 'sigmas_3'"),
        (lambda: NODES["NoisekitSampler"]().make("eulr"), r"input 'sampler_name'.*eulr"),
    ]
    for call, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            call()


def test_sampler_combo_node_applies_the_shared_knobs():
    assert NODES["NoisekitSampler"]().make("ddim")[0].options == {"eta": 0.0, "s_noise": 1.0}  # eta -1: own default
    assert NODES["NoisekitSampler"]().make("euler_ancestral", 0.5, 0.9)[0].options == {"eta": 0.5, "s_noise": 0.9}
    assert NODES["NoisekitSampler"]().make("heun", 0.5, 0.9)[0].options == {}


# ---- inside ComfyUI (a stand-in comfy package) -----------------------------------------------

@pytest.fixture
def comfy(monkeypatch):
    """Import tests/comfy_stub as ``comfy``; afterwards no comfy module stays loaded."""
    monkeypatch.syspath_prepend(str(STUB))
    import comfy.model_management
    import comfy.model_sampling
    import comfy.samplers
    import comfy.utils

    yield comfy
    for name in [n for n in sys.modules if n == "comfy" or n.startswith("comfy.")]:
        del sys.modules[name]


class _ComfyChain:
    """What KSAMPLER hands a sampler function: KSamplerX0Inpaint -> guider -> BaseModel(model_sampling).
    Calls return the given denoiser's x0; there is no parameterisation attribute anywhere."""

    def __init__(self, denoiser, model_sampling):
        base = type("BaseModel", (), {"model_sampling": model_sampling})()
        self.inner_model = type("Guider", (), {"inner_model": base})()
        self.denoiser = denoiser

    def __call__(self, x, sigma, denoise_mask=None, model_options=None, seed=None):
        return self.denoiser(x, sigma).to(x.dtype)


def test_inside_comfyui_a_sampler_is_a_ksampler_that_samples_exactly(comfy):
    assert adapter.in_comfyui()
    point = GaussianDenoiser(0.25, 0.0)
    sigmas = get_sigmas("karras", 10, sigma_max=10.0).float()  # below the stub model's top sigma 14.61
    noise = unit_noise((2, 4, 8, 8), 7)
    for name in ("euler", "euler_ancestral", "ddpm", "dpmpp_2m_sde", "unipc"):
        ks, = NODES["NoisekitSampler"]().make(name)
        assert isinstance(ks, comfy.samplers.KSAMPLER) and ks.extra_options == ks.noisekit_sampler.options
        steps = []
        out = ks.sample(_ComfyChain(point, comfy.model_sampling.model_sampling("eps")), sigmas,
                        {"model_options": {}, "seed": 7, "denoise_mask": None},
                        lambda i, den, x, total, steps=steps: steps.append(i), noise, disable_pbar=True)
        torch.testing.assert_close(out, torch.full_like(out, 0.25))
        assert steps == list(range(10)), name
    # a Gaussian: the KSAMPLER path is the core sampler on the same noisy start, bit for bit
    gauss = GaussianDenoiser(0.1, 0.5)
    ks, = NODES["NoisekitSamplerEulerAncestral"]().make(eta=1.0, s_noise=1.0)
    out = ks.sample(_ComfyChain(gauss, comfy.model_sampling.model_sampling("eps")), sigmas, {"seed": 7}, None, noise,
                    disable_pbar=True)
    x = noise * sigmas[0]  # empty latent below the model's top sigma: x = sigma_0 * noise
    assert torch.equal(out, Sampler("euler_ancestral")(gauss, x, sigmas, extra_args={"seed": 7}, disable=True))


def test_inside_comfyui_const_model_sampling_switches_to_the_flow_form(comfy):
    flow = GaussianDenoiser(0.25, 0.5, noise_form="flow")
    chain = _ComfyChain(flow, comfy.model_sampling.model_sampling("flow"))
    seen = adapter.ComfyDenoiser(chain)
    assert (seen.parameterisation, seen.sigma_max) == ("flow", 1.0)
    assert adapter.ComfyDenoiser(_ComfyChain(flow, comfy.model_sampling.model_sampling("v"))).parameterisation == "v"
    ks, = NODES["NoisekitSamplerEulerAncestral"]().make(eta=1.0, s_noise=1.0)
    sigmas = get_sigmas("flow", 8, shift=1.0).float()
    noise = unit_noise((1, 1, 8, 8), 2)
    out = ks.sample(chain, sigmas, {"seed": 2}, None, noise, disable_pbar=True)
    x = add_noise(torch.zeros_like(noise), noise, sigmas[0], "flow")
    as_flow = Sampler("euler_ancestral")(flow, x, sigmas, extra_args={"seed": 2}, disable=True)
    assert torch.equal(out, as_flow)
    ve_view = GaussianDenoiser(0.25, 0.5, noise_form="flow")
    ve_view.parameterisation = "x0"  # the same network, stepped in VE form: a different (wrong) answer
    assert not torch.allclose(out, Sampler("euler_ancestral")(ve_view, x, sigmas, extra_args={"seed": 2},
                                                              disable=True))


def test_inside_comfyui_progress_and_interrupt_go_through_comfy(comfy):
    from noisekit.nodes.server import install

    assert install()  # what the pack's __init__ does when ComfyUI imports it
    try:
        _progress_goes_through_comfy(comfy)
    finally:
        progress.set_bar(None)


def _progress_goes_through_comfy(comfy):
    bar = progress.bar(5)
    assert isinstance(bar, comfy.utils.ProgressBar) and bar.total == 5
    model = GaussianDenoiser(0.0, 0.5)
    ks, = NODES["NoisekitSamplerEuler"]().make(s_churn=0.0, s_tmin=0.0, s_tmax=1000.0, s_noise=1.0)
    comfy.model_management.interrupt_current_processing()
    with pytest.raises(comfy.model_management.InterruptProcessingException):
        NODES["NoisekitSample"]().run(model, get_sigmas("karras", 6), ks, 0, width=8, height=8)
    assert model.calls == 1  # the KSAMPLER's core sampler ran one step of a noisekit model, then stopped


# ---- noisekit's model inside ComfyUI, photo nodes through a GUIDER and a VAE ---------------------

def test_hosted_net_under_edm_model_sampling_is_the_noisekit_model():
    """ComfyUI's EDM model_sampling around HostedNet: D = c_skip x + c_out F(c_in x, log(sigma) / 4) (EDM,
    Table 1) must be noisekit's EDMDenoiser, at sizes that are no multiple of the UNet's."""
    from noisekit.models.unet import UNet, UNetConfig
    from noisekit.models.wrappers import EDMDenoiser

    torch.manual_seed(0)
    edm = EDMDenoiser(UNet(UNetConfig(channels=8, mults=(1, 2), blocks=1, emb_dim=16, groups=4)), sigma_data=0.5)
    net = adapter.HostedNet(denoiser=edm)
    assert net.dtype == torch.float32 and adapter.noisekit_model(type("Patcher", (), {"model": type(
        "BaseModel", (), {"diffusion_model": net})()})()) is edm
    x, sigma = torch.randn(2, 3, 12, 12), torch.tensor([0.3, 4.0])
    s, sd = sigma.view(-1, 1, 1, 1), edm.sigma_data
    with torch.no_grad():
        comfy_d = x * sd**2 / (s**2 + sd**2) + net(x / (s**2 + sd**2).sqrt(), sigma.log() / 4) * s * sd / (
            s**2 + sd**2).sqrt()
        padded = torch.nn.functional.pad(x, (0, 4, 0, 4), mode="reflect")
        torch.testing.assert_close(comfy_d, edm(padded, sigma)[..., :12, :12], rtol=1e-5, atol=1e-5)
    assert adapter.noisekit_model(edm) is edm


class _Guider:
    """What ComfyUI's CFGGuider offers noisekit: ``model_patcher.get_model_object("model_sampling")`` and
    ``sample(noise, latent, sampler, sigmas, seed=)``, which calls ``sampler.sample(guider, sigmas, extra_args,
    callback, noise, latent)`` with the guider callable as D(x, sigma, model_options=, seed=)."""

    def __init__(self, denoiser, sampling):
        self.denoiser, self.inner_model = denoiser, type("BaseModel", (), {"model_sampling": sampling})()
        self.model_patcher = type("Patcher", (), {"get_model_object": lambda _, name: sampling})()
        self.calls = []

    def __call__(self, x, sigma, model_options=None, seed=None):
        self.calls.append(model_options)
        return self.denoiser(x, sigma)

    def sample(self, noise, latent_image, sampler, sigmas, denoise_mask=None, callback=None, disable_pbar=False,
               seed=None):
        return sampler.sample(self, sigmas, {"model_options": {"patched": True}, "seed": seed}, callback, noise,
                              latent_image)


def test_photo_nodes_through_a_guider_and_the_pixel_vae(comfy):
    from noisekit.models.space import PixelVAE

    sampling = comfy.model_sampling.model_sampling("eps")
    image = torch.rand(1, 37, 50, 3)
    mask = torch.zeros(1, 37, 50)
    mask[0, 10:24, 15:33] = 1
    guider = _Guider(GaussianDenoiser(0.25, 0.0), sampling)
    (out,) = NODES["NoisekitInpaintPhoto"]().run(image, mask, "replace", 4, 0, 0, 0, "mean", 1.0, 2, 1,
                                                 guider=guider, vae=PixelVAE())
    hole = mask[..., None].expand_as(out) == 1
    assert (out[hole] - 0.625).abs().max() < 1e-6  # every sample of N(0.25, 0): (0.25 + 1) / 2
    assert torch.equal(out[~hole], image[~hole])
    assert guider.calls and all(c == {"patched": True} for c in guider.calls)  # ComfyUI's model_options ride along
    std, level = 0.5, 25.0
    (den,) = NODES["NoisekitDenoisePhoto"]().run(image, level, "one_step", 4, 0, 512, guider=_Guider(
        GaussianDenoiser(0.25, std), sampling), vae=PixelVAE())
    sigma, x = 2 * level / 255, image * 2 - 1
    torch.testing.assert_close(den, ((0.25 + std**2 / (std**2 + sigma**2) * (x - 0.25) + 1) / 2).clamp(0, 1))


def test_inpaint_node_through_a_guider_on_the_pixel_vae_is_the_pixel_route(comfy):
    """"patch" through a GUIDER on the pixel VAE takes the pixel route's steps (prefill, the model only on the
    deep part of the hole on the coarser grids, the photo's texture): the result of inpaint() on the same
    model; a thin scratch costs no model call on either route."""
    from noisekit.models.space import PixelVAE
    from noisekit.photo.inpaint import InpaintOptions, inpaint

    sampling = comfy.model_sampling.model_sampling("eps")
    model = GaussianDenoiser(0.25, 0.3, sigma_min=float(sampling.sigma_min), sigma_max=float(sampling.sigma_max))
    image = torch.rand(1, 40, 48, 3, generator=torch.Generator().manual_seed(0))
    box, scratch = torch.zeros(1, 40, 48), torch.zeros(1, 40, 48)
    box[0, 12:26, 15:33] = 1
    scratch[0, 5:35, 20:22] = 1
    for mask, calls in ((box, True), (scratch, False)):
        guider = _Guider(model, sampling)
        (out,) = NODES["NoisekitInpaintPhoto"]().run(image, mask, "patch", 6, 3, 0, 0, "biharmonic", 1.0, 2, 1,
                                                     guider=guider, vae=PixelVAE())
        expected = inpaint(model, image, mask, InpaintOptions("patch", 6, seed=3, strength=1.0))
        torch.testing.assert_close(out, expected, atol=1e-4, rtol=0)
        hole = mask[..., None].expand_as(out) == 1
        assert torch.equal(out[~hole], image[~hole]) and bool(guider.calls) == calls


def test_photo_nodes_name_a_missing_half_of_the_guided_route(comfy):
    from noisekit.models.space import PixelVAE

    image, mask = torch.rand(1, 8, 8, 3), torch.ones(1, 8, 8)
    node = NODES["NoisekitInpaintPhoto"]()
    args = (image, mask, "replace", 2, 0, 0, 0, "mean", 1.0, 2, 1)
    with pytest.raises(ValueError, match="input 'guider'"):
        node.run(*args, vae=PixelVAE())
    with pytest.raises(ValueError, match="input 'vae'"):
        node.run(*args, guider=_Guider(GaussianDenoiser(0.0, 0.0), comfy.model_sampling.model_sampling("eps")))
    with pytest.raises(ValueError, match="input 'model'"):
        node.run(*args)


def test_sample_node_runs_comfyuis_own_sampler(comfy):
    """A KSAMPLER from KSamplerSelect (here a k-diffusion Euler of the test's own) runs in noisekit's Sample."""
    def euler(model, x, sigmas, extra_args=None, callback=None, disable=None, s_noise=1.0):
        for i in range(len(sigmas) - 1):
            d = (x - model(x, sigmas[i] * x.new_ones(x.shape[0]), **extra_args)) / sigmas[i]
            x = x + d * (sigmas[i + 1] - sigmas[i])
        return x

    model, sigmas = GaussianDenoiser(0.1, 0.5), get_sigmas("karras", 6, sigma_max=10.0)
    ks = comfy.samplers.KSAMPLER(euler, extra_options={"s_noise": 1.0})
    theirs = NODES["NoisekitSample"]().run(model, sigmas, ks, 3, width=8, height=8)[1]["samples"]
    ours = NODES["NoisekitSample"]().run(model, sigmas, Sampler("euler"), 3, width=8, height=8)[1]["samples"]
    torch.testing.assert_close(theirs, ours)
    with pytest.raises(ValueError, match="input 'sampler'"):
        NODES["NoisekitSample"]().run(model, sigmas, "euler", 3, width=8, height=8)

    def ancestral(model, x, sigmas, extra_args=None, callback=None, disable=None):
        return model.inner_model.inner_model.model_sampling  # what ComfyUI's ancestral samplers look up

    ancestral.__name__ = "sample_euler_ancestral"
    with pytest.raises(ValueError, match=r"Sample \(noisekit\): input 'sampler': ComfyUI's sample_euler_ancestral .* SamplerCustom"):
        NODES["NoisekitSample"]().run(model, sigmas, comfy.samplers.KSAMPLER(ancestral), 3, width=8, height=8)


def test_tune_sigmas_node_is_the_core_tuning_on_seeded_noise():
    from noisekit.samplers.tune import tune_sigmas

    model, sigmas, sampler = mixture(3 * 8 * 8, 3, (0.1, 0.3)), get_sigmas("karras", 4), Sampler("heun")
    out = NODES["NoisekitTuneSigmas"]().tune(sigmas.float(), sampler, 5, width=8, height=8, batch_size=2, model=model)
    x = add_noise(torch.zeros(2, 3, 8, 8), unit_noise((2, 3, 8, 8), 5), float(sigmas.float()[0]))
    core = tune_sigmas(model, x, sampler, sigmas.float())
    (tuned,) = out["result"]
    assert tuned.dtype == torch.float32 and torch.equal(tuned, core.sigmas.float())
    assert f"{core.error:.3g} tuned" in out["ui"]["text"][0]


def test_tune_sigmas_node_through_a_guider_in_its_latent_space(comfy):
    sampling = comfy.model_sampling.model_sampling("eps")
    latent_format = type("Format", (), {"latent_channels": 4})()
    guider = _Guider(GaussianDenoiser(0.25, 0.5), sampling)
    guider.model_patcher.get_model_object = lambda name: latent_format if name == "latent_format" else sampling
    shapes = []
    guider.denoiser = lambda x, sigma: shapes.append(tuple(x.shape)) or GaussianDenoiser(0.25, 0.5)(x, sigma)
    out = NODES["NoisekitTuneSigmas"]().tune(get_sigmas("karras", 3), Sampler("euler"), 0, width=24, height=16,
                                             batch_size=2, guider=guider)
    assert set(shapes) == {(2, 4, 2, 3)} and all(c == {"patched": True} for c in guider.calls)
    assert len(out["result"][0]) == 4
    node = NODES["NoisekitTuneSigmas"]()
    with pytest.raises(ValueError, match="input 'model': connect either"):
        node.tune(get_sigmas("karras", 3), Sampler("euler"), 0)
    with pytest.raises(ValueError, match="input 'sampler': connect a noisekit sampler"):
        node.tune(get_sigmas("karras", 3), comfy.samplers.KSAMPLER(lambda *a, **k: a[1]), 0, guider=guider)
    with pytest.raises(ValueError, match="'sampler' ddim adds noise"):
        node.tune(get_sigmas("karras", 3), Sampler("ddim", eta=1.0), 0, guider=guider)
    with pytest.raises(ValueError, match="input 'guider': expected a ComfyUI GUIDER, got str"):
        node.tune(get_sigmas("karras", 3), Sampler("euler"), 0, guider="CFGGuider")


def test_the_joint_refinement_gets_gradients_in_inference_mode_from_load_model(monkeypatch):
    """Nodes run in inference mode (ComfyUI, noisekit run). Load Model (noisekit) loads normal weights there, so the
    refinement differentiates through them and moves the solver; weights made in inference mode (as ComfyUI loads a
    checkpoint) give no gradient, and the step-by-step fit comes back."""
    from noisekit.models.loader import load_model
    from noisekit.samplers import fit
    from noisekit.samplers.fit import fit_steps, refine
    from noisekit.samplers.tune import teacher_states

    monkeypatch.setattr(fit, "REFINE_ITERATIONS", 5)  # moving at all is the point here
    sigmas = get_sigmas("karras", 3, sigma_min=0.3, sigma_max=14.6)
    with torch.inference_mode():
        x = 14.6 * torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
        node_model, comfy_like = NODES["NoisekitLoadModel"]().load("noisekit-default")[0], load_model("noisekit-default")
        targets = teacher_states(node_model, x, sigmas)  # the same weights: the same teacher
        stepwise = fit_steps(node_model, x, sigmas, targets)
        assert refine(node_model, x, stepwise, targets[-1]) is not stepwise
        assert refine(comfy_like, x, stepwise, targets[-1]) is stepwise


def test_tune_sampler_node_is_the_core_fit_and_its_preset_loads_back(tmp_path, monkeypatch):
    from noisekit.samplers.fit import FittedSolver, fit_solver

    monkeypatch.chdir(tmp_path)  # outside ComfyUI relative presets land in the current folder
    model, sigmas, sampler = mixture(3 * 4 * 4, 3, (0.1, 0.3)), get_sigmas("karras", 4), Sampler("unipc", order=2)
    out = NODES["NoisekitTuneSampler"]().tune(sigmas.float(), sampler, 5, width=4, height=4, batch_size=8,
                                              preset="mine.json", model=model)
    x = add_noise(torch.zeros(8, 3, 4, 4), unit_noise((8, 3, 4, 4), 5), float(sigmas.float()[0]))
    core = fit_solver(model, x, sampler, sigmas.float(), tune_levels=True)
    fitted, levels = out["result"]
    assert isinstance(fitted, FittedSolver) and fitted.steps == core.sampler.steps
    assert levels.dtype == torch.float32 and torch.equal(levels, core.sigmas.float()) and len(levels) == 5
    assert f"fitted {core.check_error:.3g}, untuned unipc {core.check_base_error:.3g}, UniPC" in out["ui"]["text"][0]
    assert ("; refined jointly" in out["ui"]["text"][0]) == core.refined  # said either way
    loaded, loaded_levels = NODES["NoisekitLoadSamplerPreset"]().load("mine.json")
    assert loaded.steps == fitted.steps and torch.equal(loaded_levels, levels)
    with pytest.raises(ValueError, match="Tune Sampler .noisekit.: input 'preset': .*mine.json exists; .*another name"):
        NODES["NoisekitTuneSampler"]().tune(sigmas.float(), sampler, 5, width=4, height=4, preset="mine.json",
                                            model=model)
    (tmp_path / "bad.json").write_text('{"kind": "noisekit fitted solver", "sigmas": [1, 0]}')
    with pytest.raises(ValueError, match="Load Sampler Preset .noisekit.: input 'preset': .*bad.json: .*one level "
                                         "more.*give a .json file that Tune Sampler saved"):
        NODES["NoisekitLoadSamplerPreset"]().load("bad.json")
    with pytest.raises(ValueError, match="input 'preset': give a file name"):
        NODES["NoisekitLoadSamplerPreset"]().load(" ")


def test_tune_sampler_node_through_a_guider(comfy):
    sampling = comfy.model_sampling.model_sampling("eps")
    latent_format = type("Format", (), {"latent_channels": 4})()
    guider = _Guider(GaussianDenoiser(0.25, 0.5), sampling)
    guider.model_patcher.get_model_object = lambda name: latent_format if name == "latent_format" else sampling
    out = NODES["NoisekitTuneSampler"]().tune(get_sigmas("karras", 3), Sampler("unipc", order=2), 0, width=24,
                                              height=16, batch_size=4, tune_levels=False, guider=guider)
    sampler, sigmas = out["result"]
    assert isinstance(sampler, comfy.samplers.KSAMPLER) and len(sigmas) == 4
    with pytest.raises(ValueError, match="input 'sampler': connect a noisekit sampler"):
        NODES["NoisekitTuneSampler"]().tune(get_sigmas("karras", 3), comfy.samplers.KSAMPLER(lambda *a, **k: a[1]), 0,
                                            guider=guider)


def test_node_errors_read_well_in_comfyui_and_survive_pickling():
    import pickle


    error = NodeError("Inpaint Photo (noisekit)", "mask", "does not match the image")
    # ComfyUI shows f"{module}.{qualname}" (the pack's module is its file path); this reads as the pack's
    assert f"{type(error).__module__}.{type(error).__qualname__}" == "noisekit.NodeError"
    again = pickle.loads(pickle.dumps(error))
    assert isinstance(again, NodeError) and str(again) == str(error) == \
        "Inpaint Photo (noisekit): input 'mask': does not match the image"


class _ChainSampler:
    """What KSamplerSelect gives for an ancestral sampler: a KSAMPLER whose function reads ComfyUI's own
    model chain (model.inner_model.inner_model.model_sampling), which noisekit's photo pipeline has not."""
    extra_options = {}

    @staticmethod
    def sampler_function(model, x, sigmas, extra_args=None, callback=None, disable=None):
        return model.inner_model.inner_model.model_sampling


@pytest.mark.parametrize("node, inputs", [
    ("NoisekitDenoisePhoto", {"noise_level": 20.0, "mode": "sample", "steps": 2, "seed": 0, "tile": 256}),
    ("NoisekitInpaintPhoto", {"mask": torch.ones(1, 16, 16), "method": "replace", "steps": 2, "seed": 0, "grow": 0,
                              "feather": 0, "prefill": "mean", "strength": 1.0, "jump_length": 10,
                              "jump_n_sample": 1}),
])
def test_photo_nodes_name_the_sampler_input_when_a_comfyui_sampler_needs_its_own_chain(node, inputs):
    cls = NODES[node]
    with pytest.raises(ValueError, match=rf"{re.escape(cls.DISPLAY)}: input 'sampler': .*KSampler or SamplerCustom"):
        cls().run(image=torch.rand(1, 16, 16, 3), model=GaussianDenoiser(0.5, 0.2), sampler=_ChainSampler(), **inputs)


@pytest.mark.parametrize("strength", [0.1, 5.0])
def test_denoise_node_refuses_a_strength_outside_its_bounds(strength):
    image = torch.rand(1, 32, 32, 3, generator=torch.Generator().manual_seed(0))
    with pytest.raises(NodeError, match=r"Denoise Photo \(noisekit\).*strength.*must be in \[0\.25, 4\]"):
        NODES["NoisekitDenoisePhoto"]().run(image, 20.0, "one_step", 4, 0, 256, model=GaussianDenoiser(0.0, 0.5),
                                           strength=strength)
