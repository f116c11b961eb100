"""Train the bundled denoiser: ``python -m noisekit.training.train`` (resumable; from a checkout).

EDM training (Karras et al. 2022) of models/unet.py on random crops of the
allowed photos (training/photos.py). Every step's randomness comes from a
generator seeded by (seed, step), so a run resumed from its state makes
the same batches it would have made without stopping.

Two states: the full one (``--state``, outside the tree: a resume from it is bit-identical) and
a compact one (``--compact-state``, training/train_state.safetensors) small enough to commit
when a run must resume on another machine: the weights and their EMA in fp16 (11 MB), no
optimiser moments, so a run resumed from it warms the learning rate up again over WARMUP
steps while AdamW rebuilds them. The compact state is deleted when its run ends. Low-sigma samples are,
half of the time, clipped to [0, 1] and quantised to 8 bits after noising, as
real noisy photos are, so the one-step denoiser suits real 8-bit photos.

With ``--camera F`` a fraction F of the photo-level samples are instead a crop through a camera
pipeline drawn from training/pipelines.py's family (signal-dependent noise, one of several
demosaicers, colour matrix, tone curve, noise reduction, sharpening, downscale, JPEG), with the
camera's clean look as the target, conditioned on photo/estimate.py's luma_reading of the noisy
crop: the level ``--sigma auto`` gives the model (its metadata says "noise_reading": "luma"), however
the camera shaped its noise.
``--init`` starts from a model's weights (a fine-tune); ``--export`` is where the EMA weights go.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file

from ..models.loader import load_model, save_model
from ..models.unet import UNet, UNetConfig
from ..models.wrappers import EDMDenoiser
from ..photo.estimate import luma_reading
from .degrade import GAINS, Camera, camera_noise, read_noise
from .photos import HELDOUT, MATE_TRAIN, TRAIN, WALLPAPERS, fetch_wallpapers, load_photo
from .pipelines import VARIANTS, camera_output, draw_pipeline, draw_variant

SIGMA_DATA = 0.5
P_MEAN, P_STD = -1.2, 1.2  # EDM's log-normal training sigmas (generation range)
PHOTO_SIGMA = (0.01, 1.0)  # log-uniform; 1.3..127 on the 0..255 scale (model space is [-1, 1])
QUANTISE_BELOW = 0.5
WARMUP = 200  # steps of linear LR warm-up after a resume: AdamW's moments are not in the state
CAMERA_CROP = 160  # a camera sample's crop before development: downscaled at most 2x, its centre is whole


def photo_pyramid(photos: list[np.ndarray], min_side: int = 256) -> list[torch.Tensor]:
    """Each photo at full size and at 1/2, 1/4, ... down to min_side: uint8 [3, H, W]."""
    out = []
    for p in photos:
        t = torch.from_numpy(np.array(p)).permute(2, 0, 1).contiguous()
        while min(t.shape[1:]) >= min_side:
            out.append(t)
            t = F.interpolate(t[None].float(), scale_factor=0.5, mode="area")[0].round().clamp(0, 255).to(torch.uint8)
    return out


def random_crops(images: list[torch.Tensor], n: int, size: int, gen: torch.Generator) -> torch.Tensor:
    """n crops in [-1, 1] with random flips and 90-degree turns; images drawn by sqrt(area)."""
    weights = torch.tensor([math.sqrt(im.shape[1] * im.shape[2]) for im in images])
    picks = torch.multinomial(weights, n, replacement=True, generator=gen)
    crops = []
    for k in picks.tolist():
        im = images[k]
        top = int(torch.randint(im.shape[1] - size + 1, (1,), generator=gen))
        left = int(torch.randint(im.shape[2] - size + 1, (1,), generator=gen))
        c = im[:, top:top + size, left:left + size]
        if torch.rand((), generator=gen) < 0.5:
            c = c.flip(2)
        crops.append(c.rot90(int(torch.randint(4, (1,), generator=gen)), (1, 2)))
    return torch.stack(crops).float() / 127.5 - 1


def training_sigmas(n: int, gen: torch.Generator) -> torch.Tensor:
    """Half EDM's log-normal (generation), half log-uniform over photo noise levels."""
    lognormal = (torch.randn(n, generator=gen) * P_STD + P_MEAN).exp()
    lo, hi = math.log(PHOTO_SIGMA[0]), math.log(PHOTO_SIGMA[1])
    loguniform = (torch.rand(n, generator=gen) * (hi - lo) + lo).exp()
    return torch.where(torch.arange(n) % 2 == 0, lognormal, loguniform)


def add_noise(x: torch.Tensor, sigma: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """x + sigma * eps; low-sigma items half the time clipped and quantised to 8 bits."""
    noisy = x + sigma[:, None, None, None] * torch.randn(x.shape, generator=gen)
    as_photo = (sigma < QUANTISE_BELOW) & (torch.rand(x.shape[0], generator=gen) < 0.5)
    photo = ((noisy.clamp(-1, 1) + 1) * 127.5).round() / 127.5 - 1
    return torch.where(as_photo[:, None, None, None], photo, noisy)


def centre(image: torch.Tensor, size: int) -> torch.Tensor:
    """The centre size x size of [..., H, W]."""
    top, left = (image.shape[-2] - size) // 2, (image.shape[-1] - size) // 2
    return image[..., top:top + size, left:left + size]


def camera_sample(photo: torch.Tensor, size: int, gen: torch.Generator, plain: float = 0.0,
                  variant: str | None = None) -> tuple[torch.Tensor, torch.Tensor, float]:
    """A [3, H, W] crop in [0, 1] through a drawn camera (``plain``: draw_pipeline's; ``variant``: only that
    benchmark camera, draw_variant) -> (noisy, clean look) centre crops in [-1, 1] and the model-space
    luma_reading (photo/estimate.py) of the noisy output."""
    camera = draw_variant(gen, variant) if variant else draw_pipeline(gen, plain=plain)
    noisy, clean = camera_output(photo[None], [camera], gen)
    reading = 2 * luma_reading(noisy[0].permute(1, 2, 0))
    return centre(noisy[0], size) * 2 - 1, centre(clean[0], size) * 2 - 1, max(reading, PHOTO_SIGMA[0])


def add_camera_noise(images: list[torch.Tensor], x: torch.Tensor, noisy: torch.Tensor, sigma: torch.Tensor,
                     fraction: float, gen: torch.Generator, plain: float = 0.0,
                     variant: str | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A ``fraction`` of the photo-level items (odd indices) replaced by camera samples: (targets, noisy, sigma)."""
    picks = ((torch.arange(x.shape[0]) % 2 == 1) & (torch.rand(x.shape[0], generator=gen) < fraction)).nonzero()
    if not len(picks):
        return x, noisy, sigma
    x, noisy, sigma = x.clone(), noisy.clone(), sigma.clone()
    photos = (random_crops(images, len(picks), CAMERA_CROP, gen) + 1) / 2
    for i, photo in zip(picks.flatten().tolist(), photos):
        noisy[i], x[i], sigma[i] = camera_sample(photo, x.shape[-1], gen, plain, variant)
    return x, noisy, sigma


def edm_loss(model: EDMDenoiser, x: torch.Tensor, noisy: torch.Tensor, sigma: torch.Tensor,
             level: torch.Tensor) -> torch.Tensor:
    """EDM's weighted x0 loss, lambda = (level^2 + sd^2) / (level sd)^2 at the error's true level (a camera
    sample is conditioned on the estimate's reading, which can be far below the error it must remove)."""
    with torch.autocast("cpu", dtype=torch.bfloat16):
        denoised = model(noisy, sigma)
    weight = (level**2 + SIGMA_DATA**2) / (level * SIGMA_DATA) ** 2
    return (weight[:, None, None, None] * (denoised.float() - x) ** 2).mean()


def learning_rate(step: int, peak: float, total: int, warmup: int = 200) -> float:
    """Linear warm-up, then cosine decay to 10% of peak at ``total``."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (0.1 + 0.45 * (1 + math.cos(math.pi * progress)))


@torch.no_grad()
def update_ema(ema: torch.nn.Module, model: torch.nn.Module, step: int, decay: float = 0.999):
    d = min(decay, (1 + step) / (10 + step))
    for e, p in zip(ema.parameters(), model.parameters()):
        e.lerp_(p, 1 - d)


@torch.no_grad()
def heldout_psnr(model: EDMDenoiser, crops: torch.Tensor, sigma255: float = 25.0) -> float:
    """One-step PSNR (dB, 0..255 scale) on held-out crops with 8-bit-quantised noise."""
    gen = torch.Generator().manual_seed(0)
    sigma = torch.full((crops.shape[0],), 2 * sigma255 / 255)
    noisy = ((crops + sigma[:, None, None, None] * torch.randn(crops.shape, generator=gen)).clamp(-1, 1) + 1)
    noisy = (noisy * 127.5).round() / 127.5 - 1
    out = model(noisy, sigma).clamp(-1, 1)
    mse = ((out - crops) / 2).square().mean(dim=(1, 2, 3))
    return float((-10 * mse.log10()).mean())


@torch.no_grad()
def heldout_pipelines_psnr(model: EDMDenoiser, crops: torch.Tensor) -> float:
    """One-step PSNR (dB) against the clean look, averaged over the benchmark's camera variants
    (training/pipelines.py VARIANTS, most with a held-out stage), at the level the estimate reads."""
    gen, scores = torch.Generator().manual_seed(0), []
    for pipeline in VARIANTS.values():
        noisy, clean = camera_output((crops + 1) / 2, [pipeline] * crops.shape[0], gen)
        sigma = torch.tensor([2 * luma_reading(n.permute(1, 2, 0)) for n in noisy])
        mse = ((model(noisy * 2 - 1, sigma).clamp(-1, 1) + 1) / 2 - clean).square().mean(dim=(1, 2, 3))
        scores.append(float((-10 * mse.log10()).mean()))
    return sum(scores) / len(scores)


@torch.no_grad()
def heldout_camera_psnr(model: EDMDenoiser, crops: torch.Tensor, shot: float = 4e-3) -> float:
    """One-step PSNR (dB) on held-out crops with camera noise (JPEG q90), conditioned on the noise's RMS."""
    camera = Camera(shot, float(read_noise(torch.tensor(shot))), GAINS, 90)
    noisy = camera_noise((crops + 1) / 2, [camera] * crops.shape[0], torch.Generator().manual_seed(0)) * 2 - 1
    sigma = (noisy - crops).square().mean(dim=(1, 2, 3)).sqrt()
    mse = ((model(noisy, sigma).clamp(-1, 1) - crops) / 2).square().mean(dim=(1, 2, 3))
    return float((-10 * mse.log10()).mean())


class Trainer:
    """Model, EMA and optimiser; ``step`` is the only source of training randomness."""

    def __init__(self, config: UNetConfig, images: list[torch.Tensor], total_steps: int, lr: float = 4e-4,
                 batch: int = 16, crop: int = 64, seed: int = 0, camera: float = 0.0, plain: float = 0.0,
                 variant: str | None = None):
        self.model = EDMDenoiser(UNet(config), SIGMA_DATA)
        self.ema = EDMDenoiser(UNet(config), SIGMA_DATA).requires_grad_(False)
        self.ema.net.load_state_dict(self.model.net.state_dict())
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=lr, weight_decay=0.0)
        self.config, self.images, self.total, self.lr = config, images, total_steps, lr
        self.batch, self.crop, self.seed, self.step, self.camera, self.plain = batch, crop, seed, 0, camera, plain
        self.variant = variant
        self.restarted_at = None  # the step a compact state was resumed at (AdamW's moments start afresh)

    def train_step(self) -> float:
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.step)
        x = random_crops(self.images, self.batch, self.crop, gen)
        sigma = training_sigmas(self.batch, gen)
        noisy = add_noise(x, sigma, gen)
        if self.camera:
            x, noisy, sigma = add_camera_noise(self.images, x, noisy, sigma, self.camera, gen, self.plain,
                                               self.variant)
        level = (noisy - x).square().mean(dim=(1, 2, 3)).sqrt().clamp(min=PHOTO_SIGMA[0]) if self.camera else sigma
        loss = edm_loss(self.model, x, noisy, sigma, level)
        lr = learning_rate(self.step, self.lr, self.total)
        if self.restarted_at is not None:
            lr *= min(1.0, (self.step - self.restarted_at + 1) / WARMUP)
        for g in self.opt.param_groups:
            g["lr"] = lr
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        self.step += 1
        update_ema(self.ema, self.model, self.step)
        return loss.item()

    def save(self, path: str):
        tmp = path + ".tmp"
        torch.save({"step": self.step, "model": self.model.net.state_dict(), "ema": self.ema.net.state_dict(),
                    "opt": self.opt.state_dict(), "config": self.config.to_dict()}, tmp)
        os.replace(tmp, path)

    def load(self, path: str):
        state = torch.load(path, map_location="cpu", weights_only=True)
        if UNetConfig.from_dict(state["config"]) != self.config:
            raise ValueError(f"{path}: checkpoint architecture {state['config']} differs from {self.config}")
        self.model.net.load_state_dict(state["model"])
        self.ema.net.load_state_dict(state["ema"])
        self.opt.load_state_dict(state["opt"])
        self.step = state["step"]

    def save_compact(self, path: str):
        """Weights and EMA in fp16 with the step and config: what a later session resumes from."""
        tensors = {f"{kind}.{k}": v.detach().to(torch.float16).contiguous()
                   for kind, net in (("model", self.model.net), ("ema", self.ema.net))
                   for k, v in net.state_dict().items()}
        tmp = path + ".tmp"
        save_file(tensors, tmp, metadata={"step": str(self.step), "config": json.dumps(self.config.to_dict())})
        os.replace(tmp, path)

    def load_compact(self, path: str):
        with safe_open(path, "pt") as f:
            meta = f.metadata()
            if UNetConfig.from_dict(json.loads(meta["config"])) != self.config:
                raise ValueError(f"{path}: state architecture {meta['config']} differs from {self.config}")
            for kind, net in (("model", self.model.net), ("ema", self.ema.net)):
                net.load_state_dict({k: f.get_tensor(f"{kind}.{k}").float() for k in net.state_dict()})
        self.step = self.restarted_at = int(meta["step"])

    def init_from(self, model: EDMDenoiser):
        """Start (at step 0) from a trained model's weights, in both the model and its EMA."""
        self.model.net.load_state_dict(model.net.state_dict())
        self.ema.net.load_state_dict(model.net.state_dict())


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(prog="python -m noisekit.training.train", description=__doc__.split("\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--state", default=os.path.expanduser("~/.cache/noisekit/train_state.pt"),
                    help="full training state (outside the tree; resumes bit for bit)")
    ap.add_argument("--compact-state", default=os.path.join(here, "train_state.safetensors"),
                    help="compact state to commit for a resume elsewhere (deleted when the run ends)")
    ap.add_argument("--log", default=os.path.join(here, "train_log.jsonl"))
    ap.add_argument("--export", default=os.path.join(here, "..", "models", "weights", "noisekit-default.safetensors"))
    ap.add_argument("--wallpapers", default=WALLPAPERS,
                    help="where Debian's wallpaper package is (or will be) extracted")
    ap.add_argument("--steps", type=int, default=20000, help="total steps (also sets the LR schedule)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--crop", type=int, default=64)
    ap.add_argument("--lr", type=float, default=4e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save-every", type=int, default=250)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--camera", type=float, default=0.0, help="fraction of photo-level samples with camera noise")
    ap.add_argument("--plain", type=float, default=0.0, help="fraction of camera samples developed as "
                    "training/degrade.py does (bilinear, sRGB, JPEG or not): what the first camera model knew")
    ap.add_argument("--photos", choices=("base", "more"), default="base",
                    help="base: the photos the bundled model was trained on; more: also mate-backgrounds' (MATE_TRAIN)")
    ap.add_argument("--variant", choices=tuple(VARIANTS), default=None,
                    help="camera samples through this benchmark camera only (a specialist: the ceiling of the held-out "
                    "check, never a shipped model)")
    ap.add_argument("--init", default=None, help="a model (.safetensors) to fine-tune from, when no state exists")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    root = fetch_wallpapers(args.wallpapers)
    photos = TRAIN + (MATE_TRAIN if args.photos == "more" else ())
    trainer = Trainer(UNetConfig(), photo_pyramid([load_photo(s, root) for s in photos]), args.steps, args.lr,
                      args.batch, args.crop, args.seed, args.camera, args.plain, args.variant)
    heldout = random_crops(photo_pyramid([load_photo(s, root) for s in HELDOUT]), 8, 128,
                           torch.Generator().manual_seed(1))
    if os.path.exists(args.state):
        trainer.load(args.state)
        print(f"resumed from {args.state} at step {trainer.step}")
    elif os.path.exists(args.compact_state):
        trainer.load_compact(args.compact_state)
        print(f"resumed from {args.compact_state} at step {trainer.step} (learning rate warms up again)")
    elif args.init:
        trainer.init_from(load_model(args.init))
        print(f"fine-tuning from {args.init}")
    os.makedirs(os.path.dirname(args.state), exist_ok=True)
    reading = "luma" if args.camera else "white"  # what the exported model's sigma is for an estimated level
    t0, losses = time.time(), []
    while trainer.step < args.steps:
        losses.append(trainer.train_step())
        if trainer.step % args.save_every == 0 or trainer.step == args.steps:
            record = {"step": trainer.step, "loss": float(np.mean(losses)), "psnr25": heldout_psnr(trainer.ema, heldout),
                      "camera_psnr": heldout_camera_psnr(trainer.ema, heldout),
                      "pipelines_psnr": heldout_pipelines_psnr(trainer.ema, heldout[:4]),
                      "sec_per_step": (time.time() - t0) / len(losses)}
            print(json.dumps(record), flush=True)
            with open(args.log, "a") as f:
                f.write(json.dumps(record) + "\n")
            trainer.save(args.state)
            trainer.save_compact(args.compact_state)
            save_model(trainer.ema, args.export, step=trainer.step, noise_reading=reading)
            t0, losses = time.time(), []
    save_model(trainer.ema, args.export, step=trainer.step, noise_reading=reading)  # also exports a finished run's state
    if os.path.exists(args.compact_state):
        os.remove(args.compact_state)  # the run has ended: its state leaves the tree
        print(f"run finished at step {trainer.step}; removed {args.compact_state}")


if __name__ == "__main__":
    main()
