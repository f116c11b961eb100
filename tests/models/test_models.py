"""Bundled UNet, wrappers and loader: exact preconditioning, round trips, refusals."""
import json
import os
import struct

import pytest
import torch

from noisekit.models.loader import BUNDLED, WeightsError, load_model, read_header, save_model
from noisekit.models.unet import UNet, UNetConfig
from noisekit.models.wrappers import EDMDenoiser, NetDenoiser
from noisekit.schedules.discrete import alphas_cumprod_to_sigmas, betas_to_alphas_cumprod, make_betas

TINY = UNetConfig(channels=8, mults=(1, 2), blocks=1, emb_dim=16, groups=4)


class Const(torch.nn.Module):
    """A 'network' returning a fixed function of its inputs, recording what it was given."""

    def __init__(self, fn):
        super().__init__()
        self.fn, self.seen = fn, []
        self.w = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x, c):
        self.seen.append(c)
        return self.fn(x, c)


def test_edm_preconditioning_matches_table_1():
    sigma = torch.tensor([0.1, 2.0], dtype=torch.float64)
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    d = EDMDenoiser(Const(lambda x, c: torch.ones_like(x)), sigma_data=0.5)
    s = sigma.view(-1, 1, 1, 1)
    expected = 0.25 / (s**2 + 0.25) * x + s * 0.5 / (s**2 + 0.25).sqrt()
    torch.testing.assert_close(d(x, sigma), expected)
    torch.testing.assert_close(d.net.seen[-1], sigma.log() / 4)


@pytest.mark.parametrize("prediction", ["eps", "v", "x0", "flow"])
def test_net_denoiser_recovers_a_point_mass(prediction):
    """Given the exact prediction for data x0 = 0.3, every parameterisation returns 0.3."""
    x0, eps = torch.full((2, 1, 3, 3), 0.3, dtype=torch.float64), torch.randn(2, 1, 3, 3, dtype=torch.float64)
    sigma = torch.tensor([0.5, 0.9], dtype=torch.float64)
    s = sigma.view(-1, 1, 1, 1)
    x = (1 - s) * x0 + s * eps if prediction == "flow" else x0 + s * eps
    # In VP terms the network sees alpha x0 + sqrt(1-alpha^2) eps; v = alpha eps - sqrt(1-alpha^2) x0.
    alpha = 1 / (s**2 + 1).sqrt()
    truth = {"eps": eps, "x0": x0, "flow": eps - x0, "v": alpha * eps - s * alpha * x0}[prediction]
    d = NetDenoiser(Const(lambda x_in, c: truth), prediction)
    torch.testing.assert_close(d(x, sigma), x0)


def test_discrete_denoiser_is_conditioned_on_training_timesteps():
    ac = betas_to_alphas_cumprod(make_betas("scaled_linear"))
    model_sigmas = alphas_cumprod_to_sigmas(ac)
    d = NetDenoiser(Const(lambda x, c: torch.zeros_like(x)), "eps", alphas_cumprod=ac)
    d(torch.zeros(3, 1, 2, 2, dtype=torch.float64), model_sigmas[[0, 499, 999]])
    torch.testing.assert_close(d.net.seen[-1].double(), torch.tensor([0.0, 499.0, 999.0], dtype=torch.float64))
    assert d.sigma_min == pytest.approx(0.0291675, abs=1e-5) and d.sigma_max == pytest.approx(14.614642, abs=1e-4)


def test_unet_shapes_and_size_check():
    net = UNet(TINY)
    assert net(torch.randn(2, 3, 16, 24), torch.zeros(2)).shape == (2, 3, 16, 24)
    with pytest.raises(ValueError, match="multiples of 2"):
        net(torch.randn(1, 3, 15, 16), torch.zeros(1))


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_model_runs_in_the_inputs_float_dtype(dtype):
    # the noise embedding follows the weights' dtype (it was always float32: float64 failed)
    model = _trained_tiny()
    x, sigma = torch.randn(2, 3, 8, 8, dtype=torch.float64), torch.tensor([0.3, 4.0], dtype=torch.float64)
    reference = model(x.float(), sigma.float()).double()
    out = model.to(dtype)(x.to(dtype), sigma.to(dtype))
    assert out.dtype == dtype
    tolerance = 1e-5 if dtype == torch.float64 else 0.1
    torch.testing.assert_close(out.double(), reference, rtol=tolerance, atol=tolerance)


def _trained_tiny():
    torch.manual_seed(0)
    model = EDMDenoiser(UNet(TINY))
    for p in model.parameters():
        p.data.normal_(0, 0.1)
    return model


def test_save_load_round_trip(tmp_path):
    model = _trained_tiny()
    path = str(tmp_path / "tiny.safetensors")
    save_model(model, path, step=7)
    loaded = load_model(path)
    assert read_header(path)[1]["step"] == "7"
    for p in model.parameters():  # shipped weights are fp16
        p.data = p.data.half().float()
    x, sigma = torch.randn(1, 3, 8, 8), torch.tensor([0.7])
    torch.testing.assert_close(loaded(x, sigma), model(x, sigma))
    assert not any(p.requires_grad for p in loaded.parameters())


def test_truncated_file_is_refused(tmp_path):
    path = str(tmp_path / "t.safetensors")
    save_model(_trained_tiny(), path)
    data = open(path, "rb").read()
    open(path, "wb").write(data[:-100])
    with pytest.raises(WeightsError, match="truncated") as e:
        load_model(path)
    assert path in str(e.value)


@pytest.mark.parametrize("budget", ["", "64G"])
def test_huge_weights_file_is_refused_naming_it_under_an_address_space_cap(tmp_path, budget):
    """A 20 GB (sparse) file in a process limited to 12 GiB of address space: exit 2 and its path, whether the
    memory budget refuses it (the default here) or the budget admits it and mapping it fails."""
    import resource
    import subprocess
    import sys

    path = tmp_path / "huge.safetensors"
    path.write_bytes(open(BUNDLED["noisekit-default"], "rb").read())
    os.truncate(path, 20 * 2**30)  # sparse: takes no disk
    photo = os.path.join(os.path.dirname(os.path.dirname(__file__)), "goldens", "inputs", "cat_noisy25.png")
    cap = lambda: resource.setrlimit(resource.RLIMIT_AS, (12 * 2**30, 12 * 2**30))
    done = subprocess.run([sys.executable, "-m", "noisekit.cli", "denoise", photo, str(tmp_path / "out.png"),
                           "--model", str(path)], preexec_fn=cap, capture_output=True, text=True,
                          env={**os.environ, "NOISEKIT_MEMORY_BUDGET": budget}, timeout=120)
    assert done.returncode == 2 and str(path) in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "out.png").exists()


def _raw_safetensors(path, tensors, meta):
    from safetensors.torch import save_file

    save_file(tensors, path, metadata=meta)


def test_foreign_file_is_named(tmp_path):
    path = str(tmp_path / "sd.safetensors")
    _raw_safetensors(path, {"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(2)}, {})
    with pytest.raises(WeightsError, match="ComfyUI/CompVis"):
        load_model(path)
    path2 = str(tmp_path / "diffusers.safetensors")
    _raw_safetensors(path2, {"down_blocks.0.resnets.0.conv1.weight": torch.zeros(2)}, {"format": "pt"})
    with pytest.raises(WeightsError, match="diffusers"):
        load_model(path2)


def test_missing_key_and_wrong_shape_are_refused(tmp_path):
    model = _trained_tiny()
    sd = {k: v.half() for k, v in model.net.state_dict().items()}
    meta = {"format": "noisekit-unet", "config": json.dumps(TINY.to_dict())}
    path = str(tmp_path / "m.safetensors")
    dropped = sorted(sd)[0]
    _raw_safetensors(path, {k: v for k, v in sd.items() if k != dropped}, meta)
    with pytest.raises(WeightsError, match="missing") as e:
        load_model(path)
    assert dropped in str(e.value)
    sd[dropped] = torch.zeros(1, dtype=torch.float16)
    _raw_safetensors(path, sd, meta)
    with pytest.raises(WeightsError, match="shapes"):
        load_model(path)


def test_not_safetensors_and_unknown_name(tmp_path):
    path = str(tmp_path / "junk.safetensors")
    open(path, "wb").write(struct.pack("<Q", 5) + b"hello")
    with pytest.raises(WeightsError, match="not a safetensors file"):
        load_model(path)
    with pytest.raises(FileNotFoundError, match="noisekit-default"):
        load_model("no-such-model")


def test_bundled_weights_ship_and_load():
    path = BUNDLED["noisekit-default"]
    assert os.path.getsize(path) < 8 * 2**20
    model = load_model("noisekit-default")
    assert model.sigma_min > 0 and model.sigma_max > 10
    out = model(torch.zeros(1, 3, 16, 16), torch.tensor([0.2]))
    assert out.shape == (1, 3, 16, 16) and torch.isfinite(out).all()
