"""The inpaint benchmark's hole metrics (bench/inpaint.py): the patch texture distance is not pixel-aligned (the
same texture shifted by a few pixels scores near 0, a smooth fill far from it) and the mean-colour error is exact."""
import numpy as np
import pytest
from scipy import ndimage

from noisekit.bench.inpaint import colour_error, laplacian_pyramid, texture_distance


def textured(size=128, seed=0):
    """A photo-like texture: band-limited noise in three correlated channels, 0-255."""
    rng = np.random.default_rng(seed)
    grey = ndimage.gaussian_filter(rng.normal(0, 1, (size, size)), 1.2)
    colour = ndimage.gaussian_filter(rng.normal(0, 1, (size, size, 3)), (8, 8, 0))
    return np.clip(128 + 400 * grey[..., None] + 200 * colour, 0, 255).round().astype(np.uint8)


def box(size=128):
    hole = np.zeros((size, size), dtype=bool)
    hole[40:88, 32:96] = True
    return hole


def test_a_few_pixels_shift_scores_near_zero_and_a_smooth_fill_scores_badly():
    clean, hole = textured(), box()
    shifted, smooth, flat = clean.copy(), clean.copy(), clean.copy()
    shifted[hole] = np.roll(clean, (3, -2), (0, 1))[hole]
    smooth[hole] = ndimage.gaussian_filter(clean.astype(float), (3, 3, 0))[hole].round().astype(np.uint8)
    flat[hole] = clean[hole].mean(0).round().astype(np.uint8)
    assert texture_distance(clean, clean, hole) == 0
    near, blurred, mean = (texture_distance(r, clean, hole) for r in (shifted, smooth, flat))
    assert near < 0.25 * blurred and blurred < mean
    other = textured(seed=1)  # another draw of the same texture, pasted in: about as near as the shift
    pasted = clean.copy()
    pasted[hole] = other[hole]
    assert texture_distance(pasted, clean, hole) < 0.25 * blurred


def test_the_laplacian_pyramid_adds_back_to_the_photo():
    image = textured(64).astype(np.float64)
    bands = laplacian_pyramid(image)
    assert [b.shape[0] for b in bands] == [64, 32, 16]
    kernel = np.array([1, 4, 6, 4, 1]) / 16
    up = lambda x: 4 * ndimage.convolve1d(ndimage.convolve1d(np.kron(x, np.array([[1, 0], [0, 0]])[..., None]), kernel, 0,
                                                                  mode="reflect"), kernel, 1, mode="reflect")
    assert np.allclose(bands[0] + up(bands[1] + up(bands[2])), image)


def test_colour_error_is_each_regions_mean_colour_distance_weighted_by_its_pixels():
    clean = np.full((20, 20, 3), 100, dtype=np.uint8)
    hole = np.zeros((20, 20), dtype=bool)
    hole[2:4, 2:8] = True  # 12 pixels
    hole[10:16, 10:16] = True  # 36 pixels
    result = clean.copy()
    result[2:4, 2:8] = (103, 104, 100)  # 5 off
    result[10:13, 10:16] = (110, 100, 100)  # half the region 10 off in red: its mean 5 off
    assert colour_error(result, clean, hole) == pytest.approx((12 * 5 + 36 * 5) / 48)
    result[10:16, 10:16] = 100
    assert colour_error(result, clean, hole) == pytest.approx(12 * 5 / 48)
