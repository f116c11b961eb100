"""Shared by the photo tests: a tiny random-weight model saved as a noisekit weights file."""
import pytest
import torch

from noisekit.models.loader import save_model
from noisekit.models.unet import UNet, UNetConfig
from noisekit.models.wrappers import EDMDenoiser


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """Path of a tiny UNet (8 channels, 2 levels) saved like the bundled model: fast, not trained."""
    torch.manual_seed(0)
    path = str(tmp_path_factory.mktemp("model") / "tiny.safetensors")
    save_model(EDMDenoiser(UNet(UNetConfig(channels=8, mults=(1, 2), blocks=1, emb_dim=16, groups=4))), path)
    return path
