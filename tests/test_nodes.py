"""Every node class is valid for ComfyUI; nodes compute what the core computes."""
import sys
import types

import pytest
import torch

import noisekit
from noisekit.models.analytic import GaussianDenoiser
from noisekit.nodes import compat
from noisekit.samplers import Sampler, unit_noise
from noisekit.schedules import get_sigmas

NODES = noisekit.NODE_CLASS_MAPPINGS
SOCKETS = {"IMAGE", "MASK", "LATENT", "MODEL", "SIGMAS", "SAMPLER", "NOISE"}
WIDGETS = {"INT", "FLOAT", "STRING", "BOOLEAN"}


def _inputs(cls):
    spec = cls.INPUT_TYPES()
    assert set(spec) <= {"required", "optional", "hidden"}
    return {**spec.get("required", {}), **spec.get("optional", {})}


@pytest.mark.parametrize("name", sorted(NODES))
def test_node_declaration_is_valid_for_comfyui(name):
    cls = NODES[name]
    assert callable(getattr(cls(), cls.FUNCTION))
    assert cls.CATEGORY.startswith("noisekit/") and cls.DESCRIPTION
    assert len(cls.RETURN_TYPES) == len(cls.RETURN_NAMES) == len(cls.OUTPUT_TOOLTIPS)
    assert name in noisekit.NODE_DISPLAY_NAME_MAPPINGS
    for input_name, (kind, opts) in _inputs(cls).items():
        assert opts.get("tooltip"), (name, input_name)
        if isinstance(kind, list):
            assert kind and opts.get("default", kind[0]) in kind
        elif kind in ("INT", "FLOAT"):
            assert opts.get("min", -1e300) <= opts["default"] <= opts.get("max", 1e300), (name, input_name)
        else:
            assert kind in WIDGETS | SOCKETS, (name, input_name, kind)


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


@pytest.mark.parametrize("name", sorted(n for n in NODES if "Photo" not in n and "LoadModel" not in n))
def test_node_runs_with_defaults_and_returns_its_types(name):
    cls = NODES[name]
    args = _tiny_inputs(cls)
    if name.startswith("NoisekitSigmasSplit") and "step" in args:
        args["step"] = 2
    if name == "NoisekitSigmasSplice":
        args["sigmas"], args["other"] = args["sigmas"][:4], args["other"][3:]
    if name == "NoisekitForwardNoise":
        args["image"] = torch.rand(1, 8, 8, 3)
    out = getattr(cls(), cls.FUNCTION)(**args)
    out = out["result"] if isinstance(out, dict) else out
    assert len(out) == len(cls.RETURN_TYPES)
    for value, kind in zip(out, cls.RETURN_TYPES):
        if kind in ("SIGMAS",):
            assert value.dtype == torch.float32 and value.ndim == 1
        if kind == "IMAGE":
            assert value.ndim == 4 and value.shape[-1] == 3 and 0 <= float(value.min()) <= float(value.max()) <= 1
        if kind == "LATENT":
            assert "samples" in value


def test_schedule_nodes_equal_the_core():
    sig, = NODES["NoisekitScheduleKarras"]().make(steps=9, sigma_min=0.1, sigma_max=10.0, rho=7.0)
    torch.testing.assert_close(sig, get_sigmas("karras", 9, sigma_min=0.1, sigma_max=10.0).float())
    sig2, = NODES["NoisekitSchedule"]().make("exponential", 5, 0.5, 5.0, preset="edm")
    torch.testing.assert_close(sig2, get_sigmas("exponential", 5, sigma_min=0.002, sigma_max=80.0).float())
    hi, lo = NODES["NoisekitSigmasSplit"]().apply(sig, step=3)
    assert len(hi) == 4 and len(lo) == 7


def test_forward_noise_closed_forms():
    image = torch.rand(2, 4, 4, 3)
    x0 = image.movedim(-1, 1) * 2 - 1
    node = NODES["NoisekitForwardNoise"]()
    for form, expect in [("ve", lambda n: x0 + 0.7 * n), ("vp", lambda n: x0 / 1.49**0.5 + 0.7 / 1.49**0.5 * n),
                         ("flow", lambda n: 0.3 * x0 + 0.7 * n)]:
        shown, noisy, noise = node.apply(0.7, 5, form, image=image)
        torch.testing.assert_close(noisy["samples"], expect(noise["samples"]))
        torch.testing.assert_close(noise["samples"], unit_noise(x0.shape, 5))
    sig = get_sigmas("karras", 4).float()
    _, noisy, noise = node.apply(0.0, 5, "ve", latent={"samples": x0}, sigmas=sig, step=2)
    torch.testing.assert_close(noisy["samples"], x0 + sig[2] * noise["samples"])


def test_noise_strip_frames():
    sig = torch.tensor([2.0, 0.5, 0.0])
    strip, = NODES["NoisekitNoiseStrip"]().apply(torch.full((1, 4, 4, 3), 0.5), sig, 1, "ve")
    assert strip.shape == (3, 4, 4, 3)
    torch.testing.assert_close(strip[-1], torch.full((4, 4, 3), 0.5))


def test_sample_node_hits_a_point_mass_exactly():
    model = GaussianDenoiser(0.2, 0.0)  # model space 0.2 -> image 0.6
    sigmas, = NODES["NoisekitScheduleKarras"]().make(steps=8, sigma_min=0.01, sigma_max=10.0, rho=7.0)
    sampler, = NODES["NoisekitSamplerDpmpp2mSde"]().make(eta=1.0, s_noise=1.0, brownian=True, solver_type="midpoint")
    image, = NODES["NoisekitSample"]().run(model, sigmas, sampler, seed=1, width=16, height=8, batch_size=2)
    assert image.shape == (2, 8, 16, 3)
    torch.testing.assert_close(image, torch.full_like(image, 0.6))


def test_sample_node_inpaint_keeps_the_known_region():
    model = GaussianDenoiser(0.0, 0.0)
    image = torch.rand(1, 8, 8, 3)
    mask = torch.zeros(1, 8, 8)
    mask[:, 2:5, 2:5] = 1
    out, = NODES["NoisekitSample"]().run(model, get_sigmas("karras", 5).float(), Sampler("euler"), 0, image=image,
                                           mask=mask)
    keep = mask[0] == 0
    assert torch.equal(out[0][keep], image[0][keep])
    torch.testing.assert_close(out[0][~keep], torch.full_like(out[0][~keep], 0.5))


def test_noise_node_is_batch_invariant():
    noise, = NODES["NoisekitNoise"]().make(42)
    four = noise.generate_noise({"samples": torch.zeros(4, 3, 8, 8)})
    one = compat.Noise(45).generate_noise({"samples": torch.zeros(1, 3, 8, 8)})
    assert torch.equal(four[3], one[0]) and noise.seed == 42


def test_errors_name_node_and_input():
    with pytest.raises(ValueError, match=r"Schedule karras \(noisekit\).*steps"):
        NODES["NoisekitScheduleKarras"]().make(steps=0, sigma_min=0.1, sigma_max=10.0, rho=7.0)
    with pytest.raises(ValueError, match="input 'image'"):
        NODES["NoisekitForwardNoise"]().apply(1.0, 0, "ve")
    with pytest.raises(ValueError, match="input 'mask'.*scale the mask"):
        NODES["NoisekitSample"]().run(GaussianDenoiser(), get_sigmas("karras", 3).float(), Sampler("euler"), 0,
                                      image=torch.rand(1, 8, 8, 3), mask=torch.ones(1, 4, 4))
    with pytest.raises(ValueError, match="input 'model'"):
        NODES["NoisekitSample"]().run(object(), get_sigmas("karras", 3).float(), Sampler("euler"), 0)


@pytest.fixture
def fake_comfy(monkeypatch):
    """A stand-in for the parts of ComfyUI that compat.py touches."""
    comfy, samplers_mod, utils = (types.ModuleType(n) for n in ("comfy", "comfy.samplers", "comfy.utils"))

    class KSAMPLER:
        def __init__(self, sampler_function, extra_options={}, inpaint_options={}):
            self.sampler_function = sampler_function

    class ProgressBar:
        def __init__(self, total):
            self.total, self.n = total, 0

        def update(self, n):
            self.n += n

    samplers_mod.KSAMPLER, utils.ProgressBar = KSAMPLER, ProgressBar
    comfy.samplers, comfy.utils = samplers_mod, utils
    for name, mod in (("comfy", comfy), ("comfy.samplers", samplers_mod), ("comfy.utils", utils)):
        monkeypatch.setitem(sys.modules, name, mod)
    return KSAMPLER


def test_inside_comfyui_samplers_are_ksamplers(fake_comfy):
    class CONST:  # ComfyUI's flow model sampling
        sigma_min, sigma_max = 0.0, 1.0

    class Inner:
        model_sampling = CONST()

    flow = GaussianDenoiser(0.25, 0.5, noise_form="flow")

    class ComfyWrapped:  # what KSAMPLER hands the function: no parameterisation attribute
        inner_model = Inner()

        def __call__(self, x, sigma, **kw):
            return flow(x, sigma)

    ks, = NODES["NoisekitSamplerEulerAncestral"]().make(eta=1.0, s_noise=1.0)
    assert isinstance(ks, fake_comfy)
    sigmas = get_sigmas("flow", 300, shift=1.0)
    x = unit_noise((2, 1, 50, 100), 0).double()
    out = ks.sampler_function(ComfyWrapped(), x, sigmas, extra_args={"seed": 3}, disable=True)
    assert abs(float(out.mean()) - 0.25) < 0.02 and abs(float(out.std()) - 0.5) < 0.03
    assert type(compat.progress_bar(5)).__name__ == "ProgressBar" and compat.in_comfyui()
