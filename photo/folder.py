"""``noisekit denoise IN_DIR OUT_DIR`` and ``noisekit inpaint IN_DIR MASK_DIR OUT_DIR``: every photo of a
folder, each written to OUT_DIR under its own name exactly as the one-photo command writes it
(noisekit/batch.py runs them on local worker processes or Ray actors, keeps the manifest and resumes).
A photo's mask is the file of the same name in MASK_DIR, else one with the same stem.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from .. import batch, devices
from ..models.loader import load_model
from .cli import denoise_file, inpaint_file, model_for, parse_sigma
from ..files import file_hash, value_hash, write_new
from .files import FORMATS

NOT_SETTINGS = {"command", "func", "input", "mask", "output", "device", "workers", "ray", "json_progress"}


def photos(folder: str) -> list[str]:
    return sorted(f for f in os.listdir(folder)
                  if os.path.isfile(os.path.join(folder, f)) and os.path.splitext(f)[1].lower() in FORMATS)


def mask_for(name: str, mask_dir: str) -> str | None:
    """``name`` in ``mask_dir``, else the same stem with a photo extension, else None."""
    candidates = [name] + [os.path.splitext(name)[0] + ext for ext in FORMATS]
    return next((os.path.join(mask_dir, c) for c in candidates if os.path.isfile(os.path.join(mask_dir, c))), None)


def items(args) -> list[dict]:
    names = photos(args.input)
    if not names:
        raise ValueError(f"{args.input}: no photos there ({', '.join(FORMATS)})")
    out = []
    for name in names:
        path = os.path.abspath(os.path.join(args.input, name))
        item = {"key": name, "input": path, "hash": file_hash(path), "sets": {}}
        if args.command == "inpaint":
            item["mask"] = mask_for(name, os.path.abspath(args.mask))
            item["hash"] = value_hash([item["hash"], item["mask"] and file_hash(item["mask"])])
        out.append(item)
    return out


@dataclass
class PhotoJob:
    """The command and its options (parsed arguments); an item is one photo."""
    args: object

    @property
    def hash(self) -> str:
        return value_hash({k: v for k, v in vars(self.args).items() if k not in NOT_SETTINGS})

    def start(self):
        """In each worker: the model, loaded once."""
        args = self.args
        name = model_for(args.sigma, args.model) if args.command == "denoise" else args.model
        model = load_model(name, device=devices.check_device(args.device))

        def work(item, folder):
            target = os.path.join(folder, item["key"])
            with devices.use_device(args.device):
                if args.command == "denoise":
                    denoise_file(model, args, item["input"], target)
                elif item["mask"] is None:
                    raise FileNotFoundError(f"no mask for {item['key']} in {args.mask} (give it the photo's name)")
                else:
                    inpaint_file(model, args, item["input"], item["mask"], target)
        return work

    def commit(self, item, files, out_dir):
        return [write_new(os.path.join(out_dir, name), lambda f, data=data: f.write(data))
                for name, data in files.items()]


def run_folder(args) -> int:
    """Exit 0 all done, 3 a photo failed (its error in the manifest), 130 interrupted."""
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    if args.command == "denoise":
        parse_sigma(args.sigma)
    elif not os.path.isdir(args.mask):
        raise ValueError(f"{args.mask}: with a folder of photos, MASK must be a folder of masks")
    if os.path.exists(args.output) and not os.path.isdir(args.output):
        raise ValueError(f"{args.output} is a file; with a folder of photos, OUT must be a folder")
    devices.check_device(args.device)
    summary = batch.run_items(items(args), PhotoJob(args), os.path.abspath(args.output), args.workers, args.ray,
                              args.device, args.json_progress, desc=args.command)
    return batch.exit_code(summary)
