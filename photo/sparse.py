"""A denoiser evaluated only on the tiles that touch a mask, on a state that lives only there.

Inpainting needs the model only in the hole. ``SparseTiles`` keeps, of the tile grid that
photo/tiling.py lays over an H x W image, the tiles holding a pixel of ``where``; their union is
the footprint. A state is then a flat [B, C, N] tensor of the N footprint pixels (``gather``),
so every per-step operation of a sampler costs the footprint, not the photo. ``SparseDenoiser``
cuts the tiles out of such a state, runs the model on them in batches and blends them back with
the tiling's raised-cosine weights (normalised over the tiles that are computed). A pixel of
``where`` lies in every tile that holds it, so it gets the full weight the whole-image tiling
gives it; the footprint's other pixels are context (their result is 0 where no computed tile
weights them).
"""
from __future__ import annotations

import torch

from .tiling import TiledDenoiser, ramp, tile_starts

BATCH_PIXELS = 256 * 256  # tiles per model call: about this many pixels (bounded activations)


class SparseTiles:
    """The tiles (``tile`` pixels, ``overlap``) of an H x W grid that hold a True pixel of ``where`` [H, W]."""

    def __init__(self, where: torch.Tensor, tile: int, overlap: int):
        h, w = where.shape
        self.tile, self.overlap = tile, overlap
        self.shape, self.size = (h, w), (min(tile, h), min(tile, w))
        th, tw = self.size
        starts = [(y, x) for y in tile_starts(h, tile, overlap) for x in tile_starts(w, tile, overlap)
                  if where[y:y + th, x:x + tw].any()]
        footprint = torch.zeros(h, w, dtype=torch.bool)
        for y, x in starts:
            footprint[y:y + th, x:x + tw] = True
        self.pixels = footprint.flatten().nonzero()[:, 0]  # flat (y * w + x) of the N footprint pixels
        position = torch.full((h * w,), -1, dtype=torch.long)
        position[self.pixels] = torch.arange(len(self.pixels))
        position = position.reshape(h, w)
        self.index = torch.stack([position[y:y + th, x:x + tw].flatten() for y, x in starts]) if starts \
            else torch.zeros(0, th * tw, dtype=torch.long)  # [K, th * tw]: each tile's pixels in the flat state
        weights = [(ramp(th, overlap, y > 0, y + th < h)[:, None] * ramp(tw, overlap, x > 0, x + tw < w)).flatten()
                   for y, x in starts]
        weights = torch.stack(weights) if starts else torch.zeros(0, th * tw)
        total = torch.zeros(len(self.pixels)).index_add_(0, self.index.flatten(), weights.flatten())
        self.weights = weights / total.clamp(min=1e-12)[self.index]  # partition of unity where any tile weighs

    def __len__(self) -> int:
        return len(self.index)

    def gather(self, image: torch.Tensor) -> torch.Tensor:
        """[B, C, H, W] -> the footprint's pixels [B, C, N]."""
        return image.flatten(2)[..., self.pixels.to(image.device)]

    def scatter(self, flat: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """``image`` [B, C, H, W] with its footprint's pixels replaced by ``flat`` [B, C, N]."""
        out = image.flatten(2).clone()
        out[..., self.pixels.to(image.device)] = flat.to(image)
        return out.reshape(image.shape)

    def cut(self, flat: torch.Tensor, k: slice) -> torch.Tensor:
        """Tiles k of a flat state [B, C, N] as a batch [B * len(k), C, th, tw]."""
        b, c = flat.shape[:2]
        tiles = flat[..., self.index[k].to(flat.device)]  # [B, C, K, th * tw]
        return tiles.transpose(1, 2).reshape(-1, c, *self.size)

    def blend(self, out: torch.Tensor, tiles: torch.Tensor, k: slice) -> torch.Tensor:
        """Add tiles k [B * len(k), C, th, tw], weighted, into the flat ``out`` [B, C, N] (in place)."""
        b, c = out.shape[:2]
        weighted = tiles.reshape(b, -1, c, self.size[0] * self.size[1]) * self.weights[k].to(tiles)[None, :, None]
        return out.index_add_(2, self.index[k].flatten().to(out.device), weighted.transpose(1, 2).flatten(2))


class SparseDenoiser(TiledDenoiser):
    """D(x, sigma) on a flat footprint state [B, C, N] of ``tiles``, the tiles run in batches; a Denoiser."""

    def __init__(self, model, tiles: SparseTiles, multiple: int = 8, precision: str = "auto"):
        super().__init__(model, tiles.tile, tiles.overlap, multiple, precision=precision)
        self.tiles, self.batch = tiles, max(1, BATCH_PIXELS // (tiles.size[0] * tiles.size[1]))

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, **cond) -> torch.Tensor:
        out = torch.zeros_like(x)
        for start in range(0, len(self.tiles), self.batch):
            k = slice(start, start + self.batch)
            patches = self.tiles.cut(x, k)
            per_tile = sigma.reshape(-1).expand(x.shape[0]).repeat_interleave(len(patches) // x.shape[0])
            self.tiles.blend(out, self.denoise_tile(patches, per_tile, **cond), k)
            if self.on_tile is not None:
                self.on_tile()
        return out
