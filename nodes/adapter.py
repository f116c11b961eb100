"""The ComfyUI adapter: noisekit's values as ComfyUI's and ComfyUI's as noisekit's. Every ``comfy`` import
is lazy (only this module and nodes/server.py touch ComfyUI).

Inside ComfyUI a SAMPLER is a ``comfy.samplers.KSAMPLER`` around the core
solver (so it plugs into SamplerCustom / SamplerCustomAdvanced with any
checkpoint), noisekit's model is a ComfyUI MODEL (a ModelPatcher around a BaseModel
with EDM model_sampling and a 3-channel pixel latent), a GUIDER can be run as a core
Denoiser (``run_guided``). Outside, a SAMPLER is the core ``samplers.Sampler`` and a MODEL
noisekit's own Denoiser. (Joining ComfyUI's server and progress bars is nodes/server.py.)
"""
from __future__ import annotations

import os
import sys

import torch

from ..models.space import input_multiple, pad_to_multiple
from ..samplers import Sampler, unit_noise

# ComfyUI's model_sampling mix-in classes (comfy/model_sampling.py) -> the core's parameterisation.
# Only "flow" changes the noise form (x = (1 - sigma) x0 + sigma eps); the rest are VE in k-diffusion form.
_PARAMETERISATIONS = {"CONST": "flow", "EDM": "edm", "V_PREDICTION": "v", "X0": "x0", "EPS": "eps"}


def in_comfyui() -> bool:
    """True inside a ComfyUI process: its sampler module is loaded (ComfyUI imports it before any pack)."""
    return "comfy.samplers" in sys.modules


def model_sampling(model):
    """ComfyUI's ``model_sampling`` behind a sampler's model: KSAMPLER hands the sampler
    KSamplerX0Inpaint -> guider -> BaseModel, so look up to three ``inner_model`` levels."""
    inner = model
    for _ in range(4):
        sampling = getattr(inner, "model_sampling", None)
        if sampling is not None or inner is None:
            return sampling
        inner = getattr(inner, "inner_model", None)
    return None


def parameterisation_of(sampling) -> str:
    """The core parameterisation name for a ComfyUI model_sampling object (by its mix-in class)."""
    for cls in type(sampling).__mro__:
        if cls.__name__ in _PARAMETERISATIONS:
            return _PARAMETERISATIONS[cls.__name__]
    return "eps"


class ComfyDenoiser:
    """A ComfyUI sampler model seen as a core Denoiser, without copying anything: calls go
    straight through, ``parameterisation`` says "flow" for CONST (rectified-flow) models so
    ancestral and SDE steps use the flow form, and other attributes are the wrapped model's."""

    def __init__(self, model):
        self.inner = model
        sampling = model_sampling(model)
        self.parameterisation = parameterisation_of(sampling) if sampling is not None else "eps"
        flow = self.parameterisation == "flow"
        self.sigma_min = float(getattr(sampling, "sigma_min", 0.0))
        self.sigma_max = float(getattr(sampling, "sigma_max", 1.0 if flow else 80.0))

    def __call__(self, x, sigma, **kwargs):
        return self.inner(x, sigma, **kwargs)

    def __getattr__(self, name):  # only reached for names not set in __init__
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


class HostedNet(torch.nn.Module):
    """noisekit's EDM network as a ComfyUI BaseModel's ``diffusion_model``. ComfyUI's EDM model_sampling
    already applies c_in (calculate_input), c_noise = log(sigma) / 4 (timestep) and c_skip, c_out
    (calculate_denoised), so this only pads to the network's size multiple and crops back."""

    def __init__(self, denoiser=None, dtype=None, device=None, operations=None, **kwargs):
        super().__init__()
        self.denoiser = denoiser  # a submodule: ComfyUI's loader moves and counts its weights

    @property
    def dtype(self) -> torch.dtype:  # BaseModel.get_dtype() reads it
        return self.denoiser.dtype

    def forward(self, xc, t, context=None, control=None, transformer_options=None, **kwargs):
        x, (h, w) = pad_to_multiple(xc, input_multiple(self.denoiser))
        return self.denoiser.net(x, t.to(x.dtype).reshape(-1).expand(x.shape[0]))[..., :h, :w]


def comfy_model(denoiser):
    """noisekit's EDMDenoiser as a ComfyUI MODEL: a ModelPatcher around a BaseModel whose model_sampling
    is EDM with the model's sigma_min, sigma_max and sigma_data, on a pixel "latent" (3 channels, scale 1;
    previews show it as (x + 1) / 2). The same network object serves both, no copy."""
    import comfy.latent_formats
    import comfy.model_base
    import comfy.model_management
    import comfy.model_patcher
    import comfy.supported_models_base

    channels = denoiser.net.config.in_channels

    class PixelFormat(comfy.latent_formats.LatentFormat):
        latent_channels = channels
        scale_factor = 1.0
        latent_rgb_factors = [[float(i == j) for j in range(3)] for i in range(channels)]

    class PixelConfig(comfy.supported_models_base.BASE):
        unet_config = {}
        unet_extra_config = {}
        latent_format = PixelFormat
        sampling_settings = {"sigma_min": denoiser.sigma_min, "sigma_max": denoiser.sigma_max,
                             "sigma_data": denoiser.sigma_data}
        memory_usage_factor = 1.0
        supported_inference_dtypes = [torch.float32]

    config = PixelConfig({"denoiser": denoiser})
    config.set_inference_dtype(torch.float32, None)
    load, offload = comfy.model_management.get_torch_device(), comfy.model_management.unet_offload_device()
    base = comfy.model_base.BaseModel(config, model_type=comfy.model_base.ModelType.EDM, device=offload,
                                      unet_model=HostedNet)
    return comfy.model_patcher.ModelPatcher(base, load_device=load, offload_device=offload)


def noisekit_model(model):
    """noisekit's own Denoiser behind a MODEL value: the hosted one inside ComfyUI, else the value itself."""
    net = getattr(getattr(model, "model", None), "diffusion_model", None)
    return net.denoiser if isinstance(net, HostedNet) else model


def comfy_sampler_function(ksampler):
    """ComfyUI's own SAMPLER (a KSAMPLER: KSamplerSelect) as a k-diffusion-signature function, for noisekit's
    nodes: its sampler function with its options. (KSAMPLER.sample's noise scaling is noisekit's sample's.)"""
    def sampler_function(model, x, sigmas, extra_args=None, callback=None, disable=None):
        try:
            return ksampler.sampler_function(model, x, sigmas, extra_args=extra_args or {}, callback=callback,
                                             disable=disable, **ksampler.extra_options)
        except AttributeError as e:  # e.g. ancestral samplers read model.inner_model.inner_model.model_sampling
            name = getattr(ksampler.sampler_function, "__name__", "this sampler")
            raise ValueError(f"input 'sampler': ComfyUI's {name} needs ComfyUI's own sampling chain ({e}); run it "
                             "in KSampler or SamplerCustom, or connect a noisekit sampler here") from e

    return sampler_function


class GuidedDenoiser(ComfyDenoiser):
    """A GUIDER inside its sample call (models loaded, conditioning prepared) as a core Denoiser:
    D(x, sigma) is the guider's prediction (CFG applied) with ComfyUI's model_options, so patches,
    LoRAs and ControlNets on the MODEL apply."""

    def __init__(self, guider, extra_args: dict):
        super().__init__(guider)
        self.model_options, self.seed = extra_args.get("model_options", {}), extra_args.get("seed")

    def __call__(self, x, sigma, seed=None, **kwargs):
        return self.inner(x, sigma, model_options=self.model_options, seed=self.seed if seed is None else seed)


def run_guided(guider, latent: torch.Tensor, seed: int, fn) -> torch.Tensor:
    """``fn(denoiser, latent)`` run inside ``guider.sample`` (ComfyUI's own set-up: loading, conditioning,
    the latent format's process_in / process_out), with the guider as a core Denoiser; returns fn's state
    in the VAE's latent space."""
    import comfy.samplers

    class Call(comfy.samplers.Sampler):
        def sample(self, model_wrap, sigmas, extra_args, callback, noise, latent_image=None, denoise_mask=None,
                   disable_pbar=False):
            return fn(GuidedDenoiser(model_wrap, extra_args), latent_image)

    sampling = guider.model_patcher.get_model_object("model_sampling")
    sigmas = torch.tensor([float(sampling.sigma_max), 0.0])  # what the set-up sees; fn picks its own levels
    return guider.sample(torch.zeros_like(latent), latent, Call(), sigmas, seed=seed)


def empty_latent(guider, batch: int, height: int, width: int) -> torch.Tensor:
    """Zeros in the latent space of the guider's model for pictures of height x width: its latent format's
    channels (and a frame axis for video formats) at 1/8 of the size, as ComfyUI's empty latents."""
    latent_format = guider.model_patcher.get_model_object("latent_format")
    frames = (1,) if getattr(latent_format, "latent_dimensions", 2) == 3 else ()
    return torch.zeros(batch, int(latent_format.latent_channels), *frames, max(1, height // 8), max(1, width // 8))


def make_sampler(name: str, **options):
    """The SAMPLER value for a registered solver with validated options.

    Inside ComfyUI: ``comfy.samplers.KSAMPLER(fn, extra_options=options)`` where ``fn`` runs the
    core solver on ComfyUI's model wrapped as a ComfyDenoiser; KSAMPLER adds the initial noise and
    passes the options as keyword arguments, as for its own samplers. The core Sampler rides along
    as ``.noisekit_sampler`` so noisekit's Sample node can run it on a noisekit model.
    Outside ComfyUI: the core ``samplers.Sampler``.
    """
    return sampler_value(Sampler(name, **options))


def sampler_value(core):
    """The SAMPLER value for a core sampler (a ``Sampler``, or a fitted solver: a k-diffusion-signature callable
    with ``name`` and ``options``), as ``make_sampler`` describes."""
    if not in_comfyui():
        return core
    import comfy.samplers

    def sampler_function(model, x, sigmas, extra_args=None, callback=None, disable=None, **opts):
        return core(ComfyDenoiser(model), x, sigmas, extra_args, callback, disable, **opts)

    sampler_function.__name__ = f"noisekit_{core.name}"
    ksampler = comfy.samplers.KSAMPLER(sampler_function, extra_options=dict(core.options))
    ksampler.noisekit_sampler = core
    return ksampler


def output_folder() -> str:
    """ComfyUI's output folder inside ComfyUI, else the current one: where relative file names land."""
    if in_comfyui():
        import folder_paths

        return folder_paths.get_output_directory()
    return os.getcwd()


class SeededNoise:
    """A NOISE value (what SamplerCustomAdvanced wants: ``.seed`` and ``.generate_noise(latent)``).

    Item i of the latent batch draws from its own CPU generator seeded ``seed + i`` (or
    ``seed + batch_index[i]`` when the latent carries ComfyUI's ``batch_index``), so the
    same seed gives the same picture on any device and at any batch size.
    """

    def __init__(self, seed: int):
        self.seed = int(seed)

    def generate_noise(self, latent: dict) -> torch.Tensor:
        samples = latent["samples"]
        index = latent.get("batch_index")
        if index is None:
            return unit_noise(samples.shape, self.seed, "cpu", torch.float32)
        one = (1, *samples.shape[1:])
        return torch.cat([unit_noise(one, self.seed + int(i)) for i in index])
