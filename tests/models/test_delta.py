"""A fine-tune stored as an int8 per-output-channel delta from a bundled model: the loader rebuilds
base + scale * q exactly, within half a quantisation step of the fine-tune; a changed base, a foreign
base or a damaged delta is refused with the file and the fix."""
import os

import pytest
import torch

from noisekit.files import file_hash
from noisekit.models import loader
from noisekit.models.loader import BUNDLED, WeightsError, load_model, read_header, save_delta, save_model
from noisekit.models.unet import UNet, UNetConfig
from noisekit.models.wrappers import EDMDenoiser

TINY = UNetConfig(channels=8, mults=(1, 2), blocks=1, emb_dim=16, groups=4)


def _tiny(seed):
    torch.manual_seed(seed)
    return EDMDenoiser(UNet(TINY))


@pytest.fixture
def base(tmp_path, monkeypatch):
    """A tiny model saved as the bundled "tiny-base"."""
    path = str(tmp_path / "tiny-base.safetensors")
    save_model(_tiny(0), path)
    monkeypatch.setitem(BUNDLED, "tiny-base", path)
    return path


def _fine_tune(seed=1):
    """The base plus a heavy-tailed change (mostly small, a few large entries) with row 0 of stem.weight left
    unchanged; rounded to fp16 as an exported fine-tune is."""
    model = _tiny(0)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.net.named_parameters():
            change = 1e-3 * torch.randn(p.shape, generator=gen)
            change += (torch.rand(p.shape, generator=gen) < 0.02) * torch.randn(p.shape, generator=gen) * 0.05
            if name == "stem.weight":
                change[0] = 0
            p.copy_((p + change).half().float())
    return model


def test_delta_rebuilds_the_fine_tune_to_half_a_step(tmp_path, base):
    tuned, path = _fine_tune(), str(tmp_path / "delta.safetensors")
    save_delta(tuned, "tiny-base", path, step=7)
    header, meta = read_header(path)
    assert meta["format"] == "noisekit-delta" and meta["base"] == "tiny-base" and meta["step"] == "7"
    stored = loader._load_file(path)
    rebuilt = load_model(path).net.state_dict()
    start = load_model("tiny-base").net.state_dict()
    for key, want in tuned.net.state_dict().items():
        q, scale = stored[f"delta.{key}"], stored[f"scale.{key}"]
        rows = want.shape[0] if want.dim() else 1
        delta = (want.double() - start[key].double()).reshape(rows, -1)
        # the scale is the row's largest change over 127, so that change is stored as +-127
        assert torch.equal(scale, (delta.abs().amax(1) / 127).float())
        assert q.dtype == torch.int8 and q.abs().max() <= 127
        assert torch.equal(q.reshape(rows, -1).abs().amax(1) == 127, scale > 0)
        # the loader's weights are exactly base + scale * q (in float64, then float32) ...
        exact = start[key].double() + (q.double().reshape(rows, -1) * scale.double()[:, None]).reshape(want.shape)
        assert torch.equal(rebuilt[key], exact.float())
        # ... which is within half a step of the fine-tune, plus float32's rounding
        bound = scale.double()[:, None] / 2 + torch.finfo(torch.float32).eps * want.double().abs().reshape(rows, -1)
        assert ((rebuilt[key].double() - want.double()).reshape(rows, -1).abs() <= bound).all(), key
    assert stored["scale.stem.weight"][0] == 0  # an unchanged row has scale 0 and comes back exactly
    assert torch.equal(rebuilt["stem.weight"][0], start["stem.weight"][0])


def test_a_changed_or_damaged_base_is_refused_with_the_fix(tmp_path, base):
    path = str(tmp_path / "delta.safetensors")
    save_delta(_fine_tune(), "tiny-base", path)
    original = open(base, "rb").read()
    save_model(_tiny(5), base)  # another model in the base's place
    with pytest.raises(WeightsError, match="SHA-256") as e:
        load_model(path)
    for words in (path, base, "tiny-base", "reinstall noisekit", "export_delta"):
        assert words in str(e.value)
    open(base, "wb").write(original)
    load_model(path)  # the right base again: loads
    data = bytearray(original)
    data[-3] ^= 0xFF  # one flipped bit in a weight
    open(base, "wb").write(bytes(data))
    with pytest.raises(WeightsError, match="changed or damaged"):
        load_model(path)
    os.remove(base)
    with pytest.raises(WeightsError, match="missing: reinstall"):
        load_model(path)


def _rewrite(path, edit_tensors=lambda t: t, edit_meta=lambda m: m):
    from safetensors.torch import save_file

    header, meta = read_header(path)
    save_file(edit_tensors(loader._load_file(path)), path, metadata=edit_meta(dict(meta)))


@pytest.mark.parametrize("damage, words", [
    (dict(edit_meta=lambda m: {**m, "base": "elsewhere.safetensors"}), "must name a bundled model"),
    (dict(edit_tensors=lambda t: {k: v for k, v in t.items() if k != "scale.stem.bias"}), "missing ['scale.stem.bias']"),
    (dict(edit_tensors=lambda t: {**t, "delta.stem.bias": t["delta.stem.bias"].float()}), "int8 like the weight"),
    (dict(edit_tensors=lambda t: {**t, "scale.stem.weight": t["scale.stem.weight"][:1]}), "['scale.stem.weight']"),
    (dict(edit_tensors=lambda t: {**t, "scale.stem.bias": -t["scale.stem.bias"] - 1}), "negative, NaN or inf"),
    (dict(edit_tensors=lambda t: {**t, "scale.stem.bias": t["scale.stem.bias"] * float("nan")}), "corrupted"),
    (dict(edit_tensors=lambda t: {**t, "scale.stem.bias": t["scale.stem.bias"] * 0 + 3e38}), "NaN or inf"),
])
def test_a_damaged_delta_is_refused(tmp_path, base, damage, words):
    path = str(tmp_path / "delta.safetensors")
    save_delta(_fine_tune(), "tiny-base", path)
    _rewrite(path, **damage)
    with pytest.raises(WeightsError) as e:
        load_model(path)
    assert words in str(e.value) and path in str(e.value)


def test_a_delta_needs_a_bundled_base_of_its_architecture(tmp_path, base):
    other = EDMDenoiser(UNet(UNetConfig(channels=4, mults=(1,), blocks=1, emb_dim=8, groups=2)))
    with pytest.raises(ValueError, match="architecture"):
        save_delta(other, "tiny-base", str(tmp_path / "d.safetensors"))
    with pytest.raises(ValueError, match="must be a bundled model"):
        save_delta(_fine_tune(), base, str(tmp_path / "d.safetensors"))  # a path is no pinned base
    assert not (tmp_path / "d.safetensors").exists()


def test_the_noise_reading_travels_in_the_metadata_and_a_bad_one_is_refused(tmp_path, base):
    path = str(tmp_path / "delta.safetensors")
    save_delta(_fine_tune(), "tiny-base", path, noise_reading="luma")
    assert load_model(path).noise_reading == "luma" and load_model("tiny-base").noise_reading == "white"
    save_model(_tiny(1), str(tmp_path / "odd.safetensors"), noise_reading="rgb")
    with pytest.raises(WeightsError, match=r"'noise_reading' must be one of \('white', 'luma'\), got 'rgb'"):
        load_model(str(tmp_path / "odd.safetensors"))


def test_bundled_camera_model_is_a_small_delta_from_the_default():
    path = BUNDLED["noisekit-camera"]
    assert os.path.getsize(path) < 3.5 * 2**20  # int8: half the fp16 default
    _, meta = read_header(path)
    assert meta["base"] == "noisekit-default" and meta["base_sha256"] == file_hash(BUNDLED["noisekit-default"])
    camera, default = load_model("noisekit-camera"), load_model("noisekit-default")
    assert (camera.sigma_min, camera.sigma_max) == (default.sigma_min, default.sigma_max)
    assert (camera.noise_reading, default.noise_reading) == ("luma", "white")  # what auto gives each
    assert any(not torch.equal(a, b) for a, b in zip(camera.net.state_dict().values(), default.net.state_dict().values()))
