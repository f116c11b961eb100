"""Tiled inference (samplers/tiling.py): exact equivalence, no seams, any size, progress, errors."""
import pytest
import torch
import torch.nn.functional as F

from noisekit.models.analytic import GaussianDenoiser
from noisekit.models.space import pad_to_multiple
from noisekit.photo.tiling import TiledDenoiser, ramp, tile_starts


class LocalConv:
    """A translation-equivariant conv denoiser: two 3x3 convolutions (receptive radius 2),
    replicate padding at the input's border, and it insists on sizes that are multiples of 8."""
    sigma_min, sigma_max, parameterisation = 0.002, 80.0, "x0"

    def __init__(self, multiple=1):
        g = torch.Generator().manual_seed(0)
        self.k1 = torch.randn(3, 3, 3, 3, generator=g, dtype=torch.float64) / 9
        self.k2 = torch.randn(3, 3, 3, 3, generator=g, dtype=torch.float64) / 9
        self.multiple, self.shapes = multiple, []

    def __call__(self, x, sigma, **cond):
        assert x.shape[-2] % self.multiple == 0 and x.shape[-1] % self.multiple == 0
        self.shapes.append(tuple(x.shape[-2:]))
        h = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), self.k1.to(x))
        return F.conv2d(F.pad(torch.tanh(h), (1, 1, 1, 1), mode="replicate"), self.k2.to(x))


class Blur:
    """3x3 box blur: maps constants to themselves and linear ramps to themselves (inside)."""
    sigma_min, sigma_max, parameterisation = 0.002, 80.0, "x0"

    def __call__(self, x, sigma, **cond):
        return F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, 1)


SIGMA = torch.tensor([0.3], dtype=torch.float64)


def test_tiled_equals_untiled_for_a_local_conv_denoiser():
    """Receptive radius 2 <= overlap // 4 = 4: every pixel with weight comes from a tile that saw
    its whole neighbourhood, so tiling changes nothing (to float64 rounding)."""
    x = torch.randn(2, 3, 100, 130, dtype=torch.float64)
    model = LocalConv()
    tiled = TiledDenoiser(model, 48, 16, multiple=8)
    torch.testing.assert_close(tiled(x, SIGMA), model(x, SIGMA), rtol=0, atol=1e-12)
    assert tiled.count(100, 130) == len(tile_starts(100, 48, 16)) * len(tile_starts(130, 48, 16)) == 3 * 4


def test_tiled_equals_untiled_for_a_pointwise_denoiser():
    x = torch.randn(1, 3, 70, 90, dtype=torch.float64)
    exact = GaussianDenoiser(0.1, 0.5)
    torch.testing.assert_close(TiledDenoiser(exact, 32, 8)(x, SIGMA), exact(x, SIGMA), rtol=0, atol=1e-14)


def test_no_seams_constant_and_ramp_survive():
    flat = torch.full((1, 3, 90, 90), 0.3, dtype=torch.float64)
    torch.testing.assert_close(TiledDenoiser(Blur(), 32, 8)(flat, SIGMA), flat, rtol=0, atol=1e-14)
    ramp_image = torch.linspace(-1, 1, 90, dtype=torch.float64).expand(1, 3, 90, 90).contiguous()
    out = TiledDenoiser(Blur(), 32, 8)(ramp_image, SIGMA)
    steps = torch.diff(out[0, 0, 45, 1:-1])  # a tile border every 24 pixels
    assert float(steps.max() - steps.min()) < 1e-12


def test_sizes_not_a_multiple_of_8_are_padded_and_cropped_back():
    model = LocalConv(multiple=8)
    x = torch.randn(1, 3, 37, 53, dtype=torch.float64)
    out = TiledDenoiser(model, 64, 16, multiple=8)(x, SIGMA)  # one tile, padded to 40 x 56
    assert out.shape == x.shape and model.shapes == [(40, 56)]
    interior = (out - LocalConv()(x, SIGMA))[..., :-2, :-2]  # away from the reflect-padded border
    assert float(interior.abs().max()) < 1e-12


def test_pad_to_multiple_reflects_and_tiny_images_replicate():
    x = torch.arange(5.0).reshape(1, 1, 1, 5)
    padded, size = pad_to_multiple(x, 8)
    assert size == (1, 5) and padded.shape[-2:] == (8, 8)
    assert padded[0, 0, 0].tolist() == [0, 1, 2, 3, 4, 4, 4, 4]  # 1 row cannot reflect: replicate


def test_blend_weights_are_a_smooth_partition():
    w = ramp(32, 16, rise=True, fall=False)
    assert w[:4].eq(0).all() and w[4:16].gt(0).all() and w[16:].eq(1).all()  # guard band, rise, plateau
    assert torch.all(torch.diff(w[:16]) >= 0)
    assert ramp(32, 16, rise=False, fall=False).eq(1).all()  # image borders keep full weight


def test_progress_counts_tiles_and_memory_stays_per_tile():
    calls, model = [], LocalConv()
    tiled = TiledDenoiser(model, 32, 8, on_tile=lambda: calls.append(1))
    tiled(torch.randn(1, 3, 60, 100, dtype=torch.float64), SIGMA)
    assert len(calls) == tiled.count(60, 100) == 3 * 4
    assert max(h * w for h, w in model.shapes) == 32 * 32


@pytest.mark.parametrize("tile,overlap", [(60, 8), (32, 24), (32, 1)])
def test_bad_tile_or_overlap_is_refused(tile, overlap):
    with pytest.raises(ValueError, match=r"tiling: tile"):
        TiledDenoiser(Blur(), tile, overlap, multiple=8)


def test_sparse_tiles_give_a_pixelwise_denoiser_its_own_answer_on_the_mask_and_cover_only_its_tiles():
    """SparseDenoiser on the footprint state equals the model on the whole image wherever ``where`` is True
    (the blend weights there sum to 1 over the computed tiles), and gather / scatter are inverse."""
    from noisekit.photo.sparse import SparseDenoiser, SparseTiles

    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 150, 170, generator=g, dtype=torch.float64)
    where = torch.zeros(150, 170, dtype=torch.bool)
    where[5:9, 10:160] = True  # a stroke along the top rows: one row of tiles of 64 (stride 48) of 3 x 4
    where[140, 165] = True  # and one pixel in the far corner: one more tile
    tiles = SparseTiles(where, 64, 16)
    assert len(tiles) == 4 + 1 and tiles.pixels.numel() == 64 * 170 + 64 * 64  # the top band and the corner tile
    model = GaussianDenoiser(0.2, 0.5)
    sigma = torch.tensor([0.3, 0.7], dtype=torch.float64)
    out = tiles.scatter(SparseDenoiser(model, tiles)(tiles.gather(x), sigma), x)
    torch.testing.assert_close(out[..., where], model(x, sigma)[..., where], rtol=0, atol=1e-6)  # float32 weights
    footprint = torch.zeros(150 * 170, dtype=torch.bool)
    footprint[tiles.pixels] = True
    footprint = footprint.reshape(150, 170)
    assert torch.equal(tiles.scatter(tiles.gather(x), torch.zeros_like(x)), x * footprint)
