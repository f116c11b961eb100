"""Stand-ins for ComfyUI's core nodes: ComfyUI's behaviour, file safety, never overwriting."""
import json
import os

import numpy as np
import pytest
import scipy.ndimage
import torch
from PIL import Image

from noisekit.runner import Runner, validate
from noisekit.runner.standins import NODE_CLASS_MAPPINGS as S
from noisekit.files import write_numbered
from noisekit.runner.standins import PATHS


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    for key in ("input", "output", "temp"):
        monkeypatch.setitem(PATHS, key, str(tmp_path / key))
        os.makedirs(PATHS[key])
    rgba = np.zeros((6, 8, 4), np.uint8)
    rgba[..., 0], rgba[..., 1], rgba[..., 3] = 200, 10, 255
    rgba[:, :4, 3] = 0  # left half transparent -> mask 1 (repaint)
    Image.fromarray(rgba, "RGBA").save(os.path.join(PATHS["input"], "a.png"))
    Image.fromarray(rgba[..., :3], "RGB").save(os.path.join(PATHS["input"], "rgb.png"))
    (tmp_path / "secret.png").write_bytes(open(os.path.join(PATHS["input"], "a.png"), "rb").read())
    return tmp_path


def test_load_image_gives_image_and_inverted_alpha_mask(dirs):
    image, mask = S["LoadImage"]().load_image("a.png")
    assert image.shape == (1, 6, 8, 3) and image.dtype == torch.float32
    assert float(image[0, 0, 0, 0]) == pytest.approx(200 / 255) and float(image[0, 0, 0, 1]) == pytest.approx(10 / 255)
    assert mask.shape == (1, 6, 8) and mask[0, :, :4].eq(1).all() and mask[0, :, 4:].eq(0).all()
    _, no_alpha = S["LoadImage"]().load_image("rgb.png")
    assert torch.equal(no_alpha, torch.zeros(1, 64, 64))  # ComfyUI's placeholder mask
    assert S["LoadImage"].INPUT_TYPES()["required"]["image"][0] == ["a.png", "rgb.png"]


def test_load_image_mask_channels(dirs):
    (red,) = S["LoadImageMask"]().load_image("a.png", "red")
    (alpha,) = S["LoadImageMask"]().load_image("a.png", "alpha")
    assert torch.allclose(red, torch.full((1, 6, 8), 200 / 255))
    assert alpha[0, :, :4].eq(1).all() and alpha[0, :, 4:].eq(0).all()
    (opaque,) = S["LoadImageMask"]().load_image("rgb.png", "alpha")  # no alpha: converted to opaque RGBA
    assert torch.equal(opaque, torch.zeros(1, 6, 8))


@pytest.mark.parametrize("name", ["../secret.png", "ABS", "link.png", "sub/../../secret.png"])
def test_loaders_refuse_paths_outside_the_input_dir(dirs, name):
    os.symlink(str(dirs / "secret.png"), os.path.join(PATHS["input"], "link.png"))
    name = str(dirs / "secret.png") if name == "ABS" else name
    for node in ("LoadImage", "LoadImageMask"):
        with pytest.raises(ValueError, match="outside the input directory"):
            S[node]().load_image(name, *(["red"] if node == "LoadImageMask" else []))
    prompt = {"1": {"class_type": "LoadImage", "inputs": {"image": name}},
              "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}}
    (problem,) = validate(prompt, S)
    assert (problem.node_id, problem.input, problem.type) == ("1", "image", "custom_validation_failed")
    assert "outside the input directory" in problem.message


def test_missing_input_file_is_a_validation_error(dirs):
    prompt = {"1": {"class_type": "LoadImage", "inputs": {"image": "nope.png"}},
              "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}}
    (problem,) = validate(prompt, S)
    assert problem.input == "image" and "Invalid image file: nope.png" in problem.message


def test_load_image_reruns_when_the_file_changes(dirs):
    prompt = {"1": {"class_type": "LoadImage", "inputs": {"image": "a.png"}},
              "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}}
    runner = Runner(S)
    assert runner.run(prompt).executed == ["1", "2"] and runner.run(prompt).executed == []
    Image.new("RGB", (3, 3), (1, 2, 3)).save(os.path.join(PATHS["input"], "a.png"))
    assert runner.run(prompt).executed == ["1", "2"]


SAVE = {"1": {"class_type": "EmptyImage", "inputs": {"width": 5, "height": 4, "batch_size": 2, "color": 0x336699}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "sub/shot"}}}


def test_save_image_counts_up_never_overwrites_and_embeds_the_graph(dirs):
    first = Runner(S).run(SAVE, {"workflow": {"nodes": [], "links": []}}).ui["2"]["images"]
    assert [(i["filename"], i["subfolder"], i["type"]) for i in first] == [
        ("shot_00001_.png", "sub", "output"), ("shot_00002_.png", "sub", "output")]
    before = open(first[0]["path"], "rb").read()
    second = Runner(S).run(SAVE).ui["2"]["images"]
    assert [i["filename"] for i in second] == ["shot_00003_.png", "shot_00004_.png"]
    assert open(first[0]["path"], "rb").read() == before
    info = Image.open(first[0]["path"]).info
    assert json.loads(info["prompt"]) == SAVE and json.loads(info["workflow"]) == {"nodes": [], "links": []}
    assert "workflow" not in Image.open(second[0]["path"]).info
    assert np.asarray(Image.open(second[0]["path"]))[0, 0].tolist() == [0x33, 0x66, 0x99]
    assert sorted(os.listdir(os.path.join(PATHS["output"], "sub"))) == [f"shot_0000{i}_.png" for i in range(1, 5)]


def test_save_skips_a_name_taken_meanwhile_and_refuses_to_leave_the_output_dir(dirs):
    taken = os.path.join(PATHS["output"], "x_00001_.png")
    open(taken, "wb").write(b"someone else's")
    path, counter = write_numbered(PATHS["output"], lambda n: f"x_{n:05}_.png", 1,
                                   lambda f: Image.new("RGB", (2, 2)).save(f, format="PNG"))
    assert (os.path.basename(path), counter) == ("x_00002_.png", 2)
    assert open(taken, "rb").read() == b"someone else's"
    assert sorted(os.listdir(PATHS["output"])) == ["x_00001_.png", "x_00002_.png"]  # no temp file left
    with pytest.raises(ValueError, match="filename_prefix"):
        S["SaveImage"]().save_images(torch.zeros(1, 2, 2, 3), "../escape")


def test_preview_image_writes_to_temp(dirs):
    (image,) = Runner(S).run({"1": {"class_type": "SolidMask", "inputs": {"value": 0.5, "width": 3, "height": 2}},
                              "2": {"class_type": "EmptyImage", "inputs": {"width": 3, "height": 2, "batch_size": 1,
                                                                           "color": 0}},
                              "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}}}).ui["3"]["images"]
    assert image["type"] == "temp" and image["filename"].startswith("ComfyUI_temp_")
    assert os.path.dirname(image["path"]) == PATHS["temp"]


def test_image_scale():
    image = torch.rand(1, 4, 6, 3)
    (same,) = S["ImageScale"]().upscale(image, "bilinear", 0, 0, "disabled")
    assert same is image
    (half,) = S["ImageScale"]().upscale(image, "nearest-exact", 3, 0, "disabled")  # height follows the aspect
    assert torch.equal(half, image[:, 1::2, 1::2])  # nearest-exact samples pixel centres
    (crop,) = S["ImageScale"]().upscale(image, "area", 4, 4, "center")  # 6x4 -> central 4x4, unchanged size
    assert torch.equal(crop, image[:, :, 1:5])
    (big,) = S["ImageScale"]().upscale(image, "lanczos", 12, 8, "disabled")
    assert big.shape == (1, 8, 12, 3)


def test_mask_nodes_match_comfyui():
    mask = (torch.rand(2, 9, 11) > 0.7).float()
    for expand, tapered in ((2, True), (1, False), (-1, True), (-2, False)):
        c = 0 if tapered else 1
        kernel = np.array([[c, 1, c], [1, 1, 1], [c, 1, c]])
        op = scipy.ndimage.grey_dilation if expand > 0 else scipy.ndimage.grey_erosion
        want = []
        for m in mask.numpy():
            for _ in range(abs(expand)):
                m = op(m, footprint=kernel)
            want.append(m)
        (grown,) = S["GrowMask"]().expand_mask(mask, expand, tapered)
        assert np.array_equal(grown.numpy(), np.stack(want))
    assert torch.equal(S["InvertMask"]().invert(mask)[0], 1 - mask)
    (solid,) = S["SolidMask"]().solid(0.25, 3, 2)
    assert torch.equal(solid, torch.full((1, 2, 3), 0.25))


def test_feather_mask_ramps_like_comfyui():
    (left,) = S["FeatherMask"]().feather(torch.ones(4, 4), 2, 0, 0, 0)
    assert left.shape == (1, 4, 4) and left[0, 0].tolist() == [0.5, 1.0, 1.0, 1.0]
    # ComfyUI's right ramp indexes -0 (the first column) with 1/n and the last column with 2/n
    (right,) = S["FeatherMask"]().feather(torch.ones(1, 3, 4), 0, 0, 2, 0)
    assert right[0, 0].tolist() == [0.5, 1.0, 1.0, 1.0]
    (bottom,) = S["FeatherMask"]().feather(torch.ones(1, 4, 2), 0, 0, 0, 4)
    assert bottom[0, :, 0].tolist() == [0.25, 1.0, 0.75, 0.5]


def test_image_composite_masked():
    dest, src = torch.zeros(1, 4, 5, 3), torch.ones(1, 2, 3, 3)
    (out,) = S["ImageCompositeMasked"]().composite(dest, src, 3, 1, False)
    want = torch.zeros(1, 4, 5, 3)
    want[:, 1:3, 3:5] = 1  # pasted at x=3, y=1 and clipped at the right edge
    assert torch.equal(out, want) and dest.eq(0).all()
    mask = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    (masked,) = S["ImageCompositeMasked"]().composite(dest, src, 0, 0, False, mask)
    assert torch.equal(masked[0, :2, :3, 0], mask) and masked[0, 2:].eq(0).all()
    (resized,) = S["ImageCompositeMasked"]().composite(dest, src, 0, 0, True)
    assert resized.eq(1).all()
    (rgba,) = S["ImageCompositeMasked"]().composite(torch.zeros(1, 2, 2, 4), torch.ones(1, 2, 2, 3), 0, 0, False)
    assert rgba.eq(1).all()  # an RGB source is opaque


def test_empty_image_and_latent():
    (image,) = S["EmptyImage"]().generate(3, 2, 2, 0xFF8000)
    assert image.shape == (2, 2, 3, 3) and image[0, 0, 0].tolist() == pytest.approx([1.0, 128 / 255, 0.0])
    (latent,) = S["EmptyLatentImage"]().generate(64, 48, 3)
    assert torch.equal(latent["samples"], torch.zeros(3, 4, 6, 8))
    assert all(getattr(cls, "STANDIN", False) and "stand-in" in cls.DESCRIPTION for cls in S.values())


def test_standin_inputs_match_comfyui():
    spec = {name: cls.INPUT_TYPES() for name, cls in S.items()}
    assert spec["ImageScale"]["required"]["upscale_method"][0] == ["nearest-exact", "bilinear", "area", "bicubic",
                                                                   "lanczos"]
    assert spec["ImageScale"]["required"]["width"][1] == {"default": 512, "min": 0, "max": 16384, "step": 1}
    assert spec["EmptyLatentImage"]["required"]["width"][1] == {"default": 512, "min": 16, "max": 16384, "step": 8}
    assert list(spec["ImageCompositeMasked"]["required"]) == ["destination", "source", "x", "y", "resize_source"]
    assert spec["GrowMask"]["required"]["expand"][1]["min"] == -16384
    assert spec["SaveImage"]["hidden"] == {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"}
    assert [name for name, cls in S.items() if getattr(cls, "OUTPUT_NODE", False)] == ["SaveImage", "PreviewImage"]


def test_vae_encode_decode_through_load_models_pixel_vae(dirs):
    """A saved graph with VAEEncode/VAEDecode around noisekit's Load Model runs headless: its pixel
    VAE maps pixels p to 2p - 1 and back (to float rounding: every 8-bit value comes back)."""
    from noisekit.nodes import NODE_CLASS_MAPPINGS as NODES

    prompt = {"1": {"class_type": "LoadImage", "inputs": {"image": "rgb.png"}},
              "2": {"class_type": "NoisekitLoadModel", "inputs": {"model_name": "noisekit-default"}},
              "3": {"class_type": "VAEEncode", "inputs": {"pixels": ["1", 0], "vae": ["2", 1]}},
              "4": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["2", 1]}},
              "5": {"class_type": "PreviewImage", "inputs": {"images": ["4", 0]}}}
    result = Runner({**S, **NODES}).run(prompt)
    (latent,) = result.outputs["3"]
    (image,) = S["LoadImage"]().load_image("rgb.png")[:1]
    assert torch.equal(latent["samples"], (2 * image - 1).movedim(-1, 1))
    decoded = result.outputs["4"][0]
    assert torch.equal((decoded * 255).round(), (image * 255).round()) and (decoded - image).abs().max() < 1e-7


def test_vae_standins_name_the_input_and_the_fix():
    class NotAVAE:
        pass

    with pytest.raises(ValueError, match="VAEEncode: input 'vae' is a NotAVAE, not a VAE; connect"):
        S["VAEEncode"]().encode(NotAVAE(), torch.zeros(1, 4, 4, 3))
    with pytest.raises(ValueError, match="VAEEncode: input 'pixels' must be an IMAGE"):
        S["VAEEncode"]().encode(NotAVAE(), torch.zeros(4, 4, 3))
    from noisekit.models.space import PixelVAE

    with pytest.raises(ValueError, match=r"VAEDecode: input 'samples' must be a LATENT \[B,3,H,W\] for this VAE, got \(1, 4, 2, 2\)"):
        S["VAEDecode"]().decode(PixelVAE(), {"samples": torch.zeros(1, 4, 2, 2)})  # EmptyLatentImage's 4 channels
