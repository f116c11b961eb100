"""Shared by the photo tests: a tiny random-weight model saved as a noisekit weights file, and one torch
thread for the tests that denoise with the bundled model."""
import pytest
import torch

from noisekit.models.loader import save_model
from noisekit.models.unet import UNet, UNetConfig
from noisekit.models.wrappers import EDMDenoiser


@pytest.fixture
def one_thread():
    """As with OMP_NUM_THREADS=1 (the workers take this process's count): quick on a shared machine."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """Path of a tiny UNet (8 channels, 2 levels) saved like the bundled model: fast, not trained."""
    torch.manual_seed(0)
    path = str(tmp_path_factory.mktemp("model") / "tiny.safetensors")
    save_model(EDMDenoiser(UNet(UNetConfig(channels=8, mults=(1, 2), blocks=1, emb_dim=16, groups=4))), path)
    return path
