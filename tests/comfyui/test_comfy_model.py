"""noisekit's model as a real ComfyUI model, and the photo nodes on ComfyUI models (skipped without ComfyUI).

- Load Model (noisekit) -> KSampler (ComfyUI's own samplers and schedulers) -> VAEDecode equals noisekit's
  own Sample node on the same sigmas, noise and sampler;
- SetLatentNoiseMask inpainting with it keeps the unmasked area (its empty prompt feeds KSampler and CFGGuider);
- Inpaint Photo through CFGGuider on it gives the MODEL route's picture;
- Denoise / Inpaint Photo through a GUIDER and a VAE, on the exact analytic model hosted in ComfyUI's
  BaseModel with the pixel VAE: the masked area is the analytic answer, everything else the input, bit for bit.
"""
import json

import numpy as np
import pytest
import torch
from PIL import Image

SEED, SIZE = 3, 16  # a 16 x 16 pixel state: EmptyLatentImage(128, 128) for the pixel model


def image_of(entry: dict, node: str) -> torch.Tensor:
    assert entry["status"]["status_str"] == "success", json.dumps(entry["status"]["messages"])[-3000:]
    out = entry["outputs"][node]["probe_image"][0]
    return torch.tensor(out["values"], dtype=torch.float64).reshape(out["shape"])


def error_of(entry: dict) -> dict:
    assert entry["status"]["status_str"] == "error"
    return next(m[1] for m in entry["status"]["messages"] if m[0] == "execution_error")


def ksampler_prompt(sampler_name: str, scheduler: str, steps: int = 8, denoise: float = 1.0) -> dict:
    """KSampler on Load Model (noisekit) -> VAEDecode -> SaveImage, beside noisekit's Sample on the same
    sigmas, noise and sampler: noisekit's euler and schedule nodes for euler (karras; ComfyUI's "normal" on a
    continuous EDM model is uniform in its timestep log(sigma) / 4, i.e. exponential), else ComfyUI's own
    sampler (KSamplerSelect) and schedule (BasicScheduler) fed to noisekit's Sample. (From the model's top
    sigma ComfyUI scales unit noise by sqrt(1 + sigma^2) instead of sigma, a VP model's prior, which moves
    multistep results by ~1e-4; ``denoise`` < 1 starts below it.)"""
    if sampler_name == "euler":
        kind, knobs = {"karras": ("NoisekitScheduleKarras", {"rho": 7.0}),
                       "normal": ("NoisekitScheduleExponential", {})}[scheduler]
        sigmas = {"class_type": kind, "inputs": {"steps": steps, "sigma_min": 0.002, "sigma_max": 80.0, **knobs}}
        sampler = {"class_type": "NoisekitSamplerEuler",
                   "inputs": {"s_churn": 0.0, "s_tmin": 0.0, "s_tmax": 1000.0, "s_noise": 1.0}}
    else:
        sigmas = {"class_type": "BasicScheduler", "inputs": {"model": ["load", 0], "scheduler": scheduler,
                                                             "steps": steps, "denoise": denoise}}
        sampler = {"class_type": "KSamplerSelect", "inputs": {"sampler_name": sampler_name}}
    return {
        "load": {"class_type": "NoisekitLoadModel", "inputs": {"model_name": "noisekit-default"}},
        "empty": {"class_type": "EmptyLatentImage", "inputs": {"width": SIZE * 8, "height": SIZE * 8, "batch_size": 1}},
        "ks": {"class_type": "KSampler", "inputs": {
            "model": ["load", 0], "seed": SEED, "steps": steps, "cfg": 1.0, "sampler_name": sampler_name,
            "scheduler": scheduler, "positive": ["load", 2], "negative": ["load", 2], "latent_image": ["empty", 0],
            "denoise": denoise}},
        "decode": {"class_type": "VAEDecode", "inputs": {"samples": ["ks", 0], "vae": ["load", 1]}},
        "save": {"class_type": "SaveImage", "inputs": {"images": ["decode", 0], "filename_prefix": "ks"}},
        "theirs": {"class_type": "ProbeImageStats", "inputs": {"image": ["decode", 0]}},
        "sigmas": sigmas,
        "sampler": sampler,
        "sample": {"class_type": "NoisekitSample", "inputs": {
            "model": ["load", 0], "sigmas": ["sigmas", 0], "sampler": ["sampler", 0], "seed": SEED,
            "width": SIZE, "height": SIZE, "batch_size": 1}},
        "ours": {"class_type": "ProbeImageStats", "inputs": {"image": ["sample", 0]}},
    }


@pytest.mark.parametrize("sampler_name,scheduler", [("euler", "karras"), ("euler", "normal"),
                                                    ("dpmpp_2m", "karras"), ("uni_pc", "normal")])
def test_ksampler_on_noisekit_model_equals_noisekit_sample(comfyui, sampler_name, scheduler):
    prompt = ksampler_prompt(sampler_name, scheduler, denoise=1.0 if sampler_name == "euler" else 0.8)
    if sampler_name == "uni_pc":  # KSampler drops uni_pc's penultimate sigma; SamplerCustom runs the schedule as is
        prompt["ks"] = {"class_type": "SamplerCustom", "inputs": {
            "model": ["load", 0], "add_noise": True, "noise_seed": SEED, "cfg": 1.0, "positive": ["load", 2],
            "negative": ["load", 2], "sampler": ["sampler", 0], "sigmas": ["sigmas", 0], "latent_image": ["empty", 0]}}
    entry = comfyui.run(prompt, timeout=300)
    theirs, ours = image_of(entry, "theirs"), image_of(entry, "ours")
    assert theirs.shape == ours.shape == (1, SIZE, SIZE, 3)
    assert theirs.std() > 0.05  # a picture, not a constant
    assert (theirs - ours).abs().max() < 1e-4
    saved = entry["outputs"]["save"]["images"][0]
    assert (comfyui.base / "output" / saved["subfolder"] / saved["filename"]).is_file()


def test_samplercustomadvanced_and_inpainting_with_noisekit_model(comfyui):
    """VAEEncode -> SetLatentNoiseMask -> SamplerCustomAdvanced (CFGGuider, ComfyUI's dpmpp_2m) -> VAEDecode:
    outside the mask the decoded image is the input."""
    picture = np.linspace(0, 255, SIZE * SIZE * 3).reshape(SIZE, SIZE, 3).astype(np.uint8)
    Image.fromarray(picture).save(comfyui.base / "input" / "grad16.png")
    mask = torch.zeros(SIZE, SIZE)
    mask[4:12, 2:9] = 1
    prompt = {
        "load": {"class_type": "NoisekitLoadModel", "inputs": {"model_name": "noisekit-default"}},
        "image": {"class_type": "LoadImage", "inputs": {"image": "grad16.png"}},
        "mask": {"class_type": "SolidMask", "inputs": {"value": 1.0, "width": 7, "height": 8}},
        "canvas": {"class_type": "SolidMask", "inputs": {"value": 0.0, "width": SIZE, "height": SIZE}},
        "composite": {"class_type": "MaskComposite", "inputs": {"destination": ["canvas", 0], "source": ["mask", 0],
                                                                "x": 2, "y": 4, "operation": "add"}},
        "encode": {"class_type": "VAEEncode", "inputs": {"pixels": ["image", 0], "vae": ["load", 1]}},
        "noise_mask": {"class_type": "SetLatentNoiseMask", "inputs": {"samples": ["encode", 0],
                                                                      "mask": ["composite", 0]}},
        "guider": {"class_type": "CFGGuider", "inputs": {"model": ["load", 0], "positive": ["load", 2],
                                                         "negative": ["load", 2], "cfg": 3.0}},
        "noise": {"class_type": "RandomNoise", "inputs": {"noise_seed": 5}},
        "sampler": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "dpmpp_2m"}},
        "sigmas": {"class_type": "BasicScheduler", "inputs": {"model": ["load", 0], "scheduler": "karras",
                                                              "steps": 6, "denoise": 1.0}},
        "sample": {"class_type": "SamplerCustomAdvanced", "inputs": {
            "noise": ["noise", 0], "guider": ["guider", 0], "sampler": ["sampler", 0], "sigmas": ["sigmas", 0],
            "latent_image": ["noise_mask", 0]}},
        "decode": {"class_type": "VAEDecode", "inputs": {"samples": ["sample", 0], "vae": ["load", 1]}},
        "out": {"class_type": "ProbeImageStats", "inputs": {"image": ["decode", 0]}},
        "in": {"class_type": "ProbeImageStats", "inputs": {"image": ["image", 0]}},
    }
    entry = comfyui.run(prompt, timeout=300)
    out, original = image_of(entry, "out"), image_of(entry, "in")
    keep = (mask == 0)[None, ..., None].expand_as(out)
    assert (out - original)[keep].abs().max() < 1e-6  # the pixel VAE round trip: (2 x - 1 + 1) / 2
    assert (out - original)[~keep].abs().max() > 0.05  # the hole was repainted


def write_photo(comfyui, name: str, size=(37, 50), hole=(10, 24, 15, 33)) -> tuple[torch.Tensor, torch.Tensor]:
    """An RGBA photo whose transparent box is LoadImage's MASK (1 - alpha); returns (IMAGE, MASK)."""
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([(yy * 255 // h), (xx * 255 // w), ((yy + xx) * 127 // (h + w))], -1).astype(np.uint8)
    alpha = np.full((h, w), 255, np.uint8)
    t, b, l, r = hole
    alpha[t:b, l:r] = 0
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(comfyui.base / "input" / name)
    return torch.tensor(rgb / 255.0)[None], torch.tensor(alpha == 0, dtype=torch.float64)[None]


def guided_prompt(node: dict, *, target=0.25, std=0.0) -> dict:
    """A photo node on the exact analytic model (EPS, pixel latent) in ComfyUI's BaseModel, through
    BasicGuider, with Load Model (noisekit)'s pixel VAE."""
    return {
        "model": {"class_type": "ProbeAnalyticModel", "inputs": {"target": target, "data_std": std, "channels": 3}},
        "cond": {"class_type": "ProbeConditioning", "inputs": {}},
        "guider": {"class_type": "BasicGuider", "inputs": {"model": ["model", 0], "conditioning": ["cond", 0]}},
        "vae": {"class_type": "NoisekitLoadModel", "inputs": {"model_name": "noisekit-default"}},
        "image": {"class_type": "LoadImage", "inputs": {"image": "photo.png"}},
        "node": {**node, "inputs": {**node["inputs"], "image": ["image", 0], "guider": ["guider", 0],
                                    "vae": ["vae", 1]}},
        "out": {"class_type": "ProbeImageStats", "inputs": {"image": ["node", 0]}},
    }


@pytest.mark.parametrize("method", ["anneal", "replace", "repaint"])
def test_inpaint_photo_through_a_guider_is_exact_in_the_hole_and_the_input_elsewhere(comfyui, method):
    image, mask = write_photo(comfyui, "photo.png")
    node = {"class_type": "NoisekitInpaintPhoto", "inputs": {
        "mask": ["image", 1], "method": method, "steps": 6, "seed": 1, "grow": 0, "feather": 0, "prefill": "mean",
        "strength": 1.0, "jump_length": 2, "jump_n_sample": 2}}
    out = image_of(comfyui.run(guided_prompt(node)), "out")
    assert out.shape == image.shape
    hole = mask[..., None].expand_as(out) > 0
    # every sample of N(0.25, 0) is 0.25 in model space: (0.25 + 1) / 2 on the IMAGE scale
    assert (out[hole] - 0.625).abs().max() < 1e-5
    assert torch.equal(out[~hole].float(), image[~hole].float())  # bit for bit (as float32 IMAGE values)


def test_inpaint_photo_with_a_feathered_mask_blends_only_inside_it(comfyui):
    image, mask = write_photo(comfyui, "photo.png")
    node = {"class_type": "NoisekitInpaintPhoto", "inputs": {
        "mask": ["image", 1], "method": "anneal", "steps": 4, "seed": 1, "grow": 2, "feather": 3, "prefill": "mean",
        "strength": 1.0, "jump_length": 2, "jump_n_sample": 2, "resolution": 24}}
    out = image_of(comfyui.run(guided_prompt(node)), "out")
    from noisekit.photo.masks import feather_mask, grow_mask

    soft = feather_mask(grow_mask(mask.float(), 2), 3)[..., None].expand_as(out).double()
    assert torch.equal(out[soft == 0].float(), image[soft == 0].float())
    # worked at 24 pixels and resized back: away from the hole's edge (bicubic's reach) it is still 0.625
    inside = grow_mask(mask.float(), -5)[..., None].expand_as(out) == 1
    assert inside.sum() > 0 and (out[inside] - 0.625).abs().max() < 1e-4
    edge = (soft > 0) & (soft < 1)
    assert ((out[edge] - image[edge]).abs() > 1e-3).any()  # the feathered edge blends


def test_denoise_photo_through_a_guider_is_the_posterior_mean(comfyui):
    image, _ = write_photo(comfyui, "photo.png", size=(24, 40))
    std, level = 0.5, 25.0
    node = {"class_type": "NoisekitDenoisePhoto", "inputs": {
        "noise_level": level, "mode": "one_step", "steps": 4, "seed": 0, "tile": 512}}
    out = image_of(comfyui.run(guided_prompt(node, std=std)), "out")
    sigma, x = 2 * level / 255, image * 2 - 1  # the pixel VAE: model space is 2 image - 1
    expected = ((0.25 + std**2 / (std**2 + sigma**2) * (x - 0.25)) + 1) / 2
    assert (out - expected.clamp(0, 1)).abs().max() < 1e-5


def test_inpaint_photo_through_cfgguider_on_noisekit_model_is_the_model_route(comfyui):
    """The default method on Load Model (noisekit), through CFGGuider and its VAE or on the MODEL: where the
    mask's box plus context is the whole picture (a multiple of 8), the two are the same picture."""
    image, mask = write_photo(comfyui, "photo.png", size=(48, 64), hole=(16, 34, 20, 44))
    photo = lambda **route: {"class_type": "NoisekitInpaintPhoto", "inputs": {
        "image": ["image", 0], "mask": ["image", 1], "method": "patch", "steps": 8, "seed": 2, "grow": 0,
        "feather": 0, "prefill": "biharmonic", "strength": 0.57, "jump_length": 10, "jump_n_sample": 2, **route}}
    prompt = {
        "load": {"class_type": "NoisekitLoadModel", "inputs": {"model_name": "noisekit-default"}},
        "image": {"class_type": "LoadImage", "inputs": {"image": "photo.png"}},
        "guider": {"class_type": "CFGGuider", "inputs": {"model": ["load", 0], "positive": ["load", 2],
                                                         "negative": ["load", 2], "cfg": 1.0}},
        "native": photo(model=["load", 0]),
        "guided": photo(guider=["guider", 0], vae=["load", 1]),
        "a": {"class_type": "ProbeImageStats", "inputs": {"image": ["native", 0]}},
        "b": {"class_type": "ProbeImageStats", "inputs": {"image": ["guided", 0]}},
    }
    entry = comfyui.run(prompt, timeout=300)
    native, guided = image_of(entry, "a"), image_of(entry, "b")
    hole = mask[..., None].expand_as(native) > 0
    assert (native - guided).abs().max() < 1e-6  # ComfyUI computes the preconditioning in its own order
    assert torch.equal(native[~hole].float(), image[~hole].float()) and (native[hole] - image[hole]).abs().max() > 0.05


def test_photo_nodes_with_comfyuis_own_sd_vae_keep_everything_outside_the_mask(comfyui):
    """ComfyUI's SD VAE (8x, random weights of the probe's own) on a 37 x 50 photo: the box is padded to
    64 x 64 for an 8 x 8 latent; outside the mask the output is the input, bit for bit."""
    image, mask = write_photo(comfyui, "photo.png")
    prompt = guided_prompt({"class_type": "NoisekitInpaintPhoto", "inputs": {
        "mask": ["image", 1], "method": "replace", "steps": 3, "seed": 1, "grow": 1, "feather": 2,
        "prefill": "mean", "strength": 1.0, "jump_length": 2, "jump_n_sample": 2}})
    prompt["model"]["inputs"]["channels"] = 4
    prompt["sdvae"] = {"class_type": "ProbeRandomVAE", "inputs": {}}
    prompt["node"]["inputs"]["vae"] = ["sdvae", 0]
    prompt["denoise"] = {"class_type": "NoisekitDenoisePhoto", "inputs": {
        "image": ["image", 0], "noise_level": 10.0, "mode": "sample", "steps": 2, "seed": 0, "tile": 512,
        "guider": ["guider", 0], "vae": ["sdvae", 0], "resolution": 48}}
    prompt["denoised"] = {"class_type": "ProbeImageStats", "inputs": {"image": ["denoise", 0]}}
    entry = comfyui.run(prompt, timeout=600)
    out, denoised = image_of(entry, "out"), image_of(entry, "denoised")
    from noisekit.photo.masks import feather_mask, grow_mask

    soft = feather_mask(grow_mask(mask.float(), 1), 2)[..., None].expand_as(out)
    assert torch.equal(out[soft == 0].float(), image[soft == 0].float())
    assert torch.isfinite(out).all() and ((out[soft == 1] - image[soft == 1]).abs() > 1e-3).any()
    assert denoised.shape == image.shape and torch.isfinite(denoised).all()


def test_photo_node_errors_read_well_in_comfyui(comfyui):
    write_photo(comfyui, "photo.png")
    prompt = guided_prompt({"class_type": "NoisekitInpaintPhoto", "inputs": {
        "mask": ["small", 0], "method": "anneal", "steps": 2, "seed": 0, "grow": 0, "feather": 0,
        "prefill": "mean", "strength": 1.0, "jump_length": 2, "jump_n_sample": 2}})
    prompt["small"] = {"class_type": "SolidMask", "inputs": {"value": 1.0, "width": 8, "height": 8}}
    error = error_of(comfyui.run(prompt))
    assert error["node_type"] == "NoisekitInpaintPhoto"
    assert error["exception_type"] == "noisekit.NodeError"  # not the pack's file path
    assert error["exception_message"].startswith("Inpaint Photo (noisekit): input 'mask': ")
