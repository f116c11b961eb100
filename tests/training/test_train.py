"""Training pieces: data ranges, 8-bit noise, LR schedule, bit-exact resume."""
import math
import os

import pytest
import torch

from noisekit.photo.estimate import luma_reading
from noisekit.training.pipelines import SHOT_RANGE, camera_output, draw_pipeline, draw_variant
from noisekit.training.train import (CAMERA_CROP, Trainer, add_camera_noise, add_noise, camera_sample, centre,
                                     learning_rate, random_crops, training_sigmas)
from noisekit.models.unet import UNetConfig

TINY = UNetConfig(channels=8, mults=(1, 2), blocks=1, emb_dim=16, groups=4)


def _images(h=40, w=50):
    g = torch.Generator().manual_seed(3)
    return [torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8) for _ in range(2)]


def _camera_images():
    """Big enough for a camera sample's crop (CAMERA_CROP): smooth, so that a reading is of the noise."""
    y, x = torch.meshgrid(torch.linspace(0, 1, 180), torch.linspace(0, 1, 200), indexing="ij")
    return [(torch.stack([0.3 + 0.4 * x, 0.2 + 0.5 * y, 0.6 - 0.3 * x * y]) * 255).round().to(torch.uint8)
            for _ in range(2)]


def test_crops_are_in_range_and_from_the_photos():
    crops = random_crops(_images(), 5, 16, torch.Generator().manual_seed(0))
    assert crops.shape == (5, 3, 16, 16)
    assert crops.min() >= -1 and crops.max() <= 1
    assert torch.allclose((crops + 1) * 127.5, ((crops + 1) * 127.5).round(), atol=1e-4)  # 8-bit values


def test_low_sigma_noise_is_sometimes_an_8bit_photo():
    x = torch.zeros(64, 3, 8, 8)
    sigma = torch.full((64,), 0.1)
    noisy = add_noise(x, sigma, torch.Generator().manual_seed(0))
    levels = (noisy + 1) * 127.5
    on_grid = ((levels - levels.round()).abs() < 1e-4).flatten(1).all(1)
    assert 10 < int(on_grid.sum()) < 54  # about half quantised, half Gaussian
    assert (noisy[on_grid].abs() <= 1).all()
    high = add_noise(x, torch.full((64,), 5.0), torch.Generator().manual_seed(0))
    assert high.abs().max() > 1  # high sigma is never clipped


def test_training_sigmas_cover_both_ranges():
    s = training_sigmas(10000, torch.Generator().manual_seed(0))
    photo = s[1::2]
    assert photo.min() >= 0.01 and photo.max() <= 1.0
    assert abs(float(s[0::2].log().mean()) - (-1.2)) < 0.05  # EDM log-normal mean


def test_learning_rate_schedule():
    assert learning_rate(0, 1.0, 1000, warmup=10) == 0.1
    assert learning_rate(10, 1.0, 1000, warmup=10) == 1.0
    assert math.isclose(learning_rate(1000, 1.0, 1000, warmup=10), 0.1)


@pytest.mark.parametrize("camera", [0.0, 1.0])
def test_resume_is_bit_identical(tmp_path, camera):
    def trainer():
        torch.manual_seed(0)
        return Trainer(TINY, _camera_images(), total_steps=4, batch=2, crop=16, camera=camera)

    straight = trainer()
    for _ in range(4):
        straight.train_step()
    first = trainer()
    for _ in range(2):
        first.train_step()
    first.save(str(tmp_path / "state.pt"))
    resumed = trainer()
    resumed.load(str(tmp_path / "state.pt"))
    for _ in range(2):
        resumed.train_step()
    for a, b in zip(straight.ema.parameters(), resumed.ema.parameters()):
        assert torch.equal(a, b)


def test_compact_state_is_small_and_resumes_the_weights_with_a_warm_up(tmp_path):
    torch.manual_seed(0)
    first = Trainer(TINY, _images(), total_steps=4, batch=2, crop=16)
    for _ in range(2):
        first.train_step()
    first.save_compact(str(tmp_path / "state.safetensors"))
    resumed = Trainer(TINY, _images(), total_steps=4, batch=2, crop=16)
    resumed.load_compact(str(tmp_path / "state.safetensors"))
    assert (resumed.step, resumed.restarted_at) == (2, 2)
    for a, b in zip(first.ema.parameters(), resumed.ema.parameters()):
        assert torch.equal(a.half().float(), b)  # fp16 in the state, exactly
    numel = sum(v.numel() for v in first.model.net.state_dict().values())
    path = tmp_path / "state.safetensors"
    header = int.from_bytes(path.read_bytes()[:8], "little")
    assert os.path.getsize(path) - 8 - header == 2 * 2 * numel  # two fp16 copies of the weights, no moments
    resumed.train_step()
    assert resumed.opt.param_groups[0]["lr"] < learning_rate(2, resumed.lr, 4)  # warming up again


def test_camera_samples_replace_photo_level_items_with_the_cameras_look_at_the_luma_reading():
    images = _camera_images()
    x = random_crops(images, 8, 16, torch.Generator().manual_seed(0))
    sigma = torch.full((8,), 0.3)
    noisy = add_noise(x, sigma, torch.Generator().manual_seed(1))
    target, out, s = add_camera_noise(images, x, noisy, sigma, 1.0, torch.Generator().manual_seed(2))
    even = torch.arange(8) % 2 == 0
    assert torch.equal(target[even], x[even]) and torch.equal(out[even], noisy[even])  # generation items untouched
    assert torch.equal(s[even], sigma[even])
    for t in (out[~even], target[~even]):  # camera output and its clean look are 8-bit
        assert torch.allclose((t + 1) * 127.5, ((t + 1) * 127.5).round(), atol=1e-4)
    assert not torch.equal(target[~even], x[~even])  # a fresh crop through a camera, not the generation crop
    assert ((s[~even] >= 0.01) & (s[~even] < 2)).all()
    # a sample is its camera's output at the reading of the whole developed crop (photo/estimate.py luma_reading)
    photo = (random_crops(images, 1, CAMERA_CROP, torch.Generator().manual_seed(5))[0] + 1) / 2
    gen_a, gen_b = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    sample_noisy, sample_clean, reading = camera_sample(photo, 16, gen_a)
    developed, look = camera_output(photo[None], [draw_pipeline(gen_b)], gen_b)
    assert reading == max(2 * luma_reading(developed[0].permute(1, 2, 0)), 0.01)
    assert torch.equal(sample_noisy, centre(developed[0], 16) * 2 - 1)
    assert torch.equal(sample_clean, centre(look[0], 16) * 2 - 1)
    # a specialist's sample: the benchmark camera alone, at a drawn shot level
    gen_a, gen_b = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    name = "held out: another maker"
    sample_noisy, _, _ = camera_sample(photo, 16, gen_a, variant=name)
    camera = draw_variant(gen_b, name)
    assert camera.demosaic == "vng" and camera.rows == 0.4 and SHOT_RANGE[0] <= camera.shot <= SHOT_RANGE[1]
    assert torch.equal(sample_noisy, centre(camera_output(photo[None], [camera], gen_b)[0][0], 16) * 2 - 1)
    same = add_camera_noise(images, x, noisy, sigma, 0.0, torch.Generator().manual_seed(2))
    assert all(torch.equal(a, b) for a, b in zip(same, (x, noisy, sigma)))
