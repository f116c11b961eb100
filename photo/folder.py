"""``noisekit denoise IN_DIR OUT_DIR`` and ``noisekit inpaint IN_DIR MASK_DIR OUT_DIR``: every photo of a
folder, each written to OUT_DIR under its own name exactly as the one-photo command writes it
(photo/commands.py; noisekit.batch runs them on local worker processes or Ray actors, keeps the
manifest and resumes). A photo's mask is the file of the same name in MASK_DIR, else one with the same stem.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass

from .. import batch, devices
from ..files import file_hash, folder_files, value_hash, write_new
from ..models.loader import load_model
from .commands import denoise_file, inpaint_file
from .denoise import DenoiseOptions
from .files import FORMATS
from .inpaint import InpaintOptions


def mask_for(name: str, mask_dir: str) -> str | None:
    """``name`` in ``mask_dir``, else the same stem with a photo extension, else None."""
    candidates = [name] + [os.path.splitext(name)[0] + ext for ext in FORMATS]
    return next((os.path.join(mask_dir, c) for c in candidates if os.path.isfile(os.path.join(mask_dir, c))), None)


def items(folder: str, masks: str | None = None) -> list[dict]:
    names = folder_files(folder, lambda name: os.path.splitext(name)[1].lower() in FORMATS, f"noisekit: {folder}")
    if not names:
        raise ValueError(f"{folder}: no photos there ({', '.join(FORMATS)})")
    out = []
    for name in names:
        path = os.path.abspath(os.path.join(folder, name))
        item = {"key": name, "input": path, "hash": file_hash(path), "sets": {}}
        if masks is not None:
            item["mask"] = mask_for(name, os.path.abspath(masks))
            item["hash"] = value_hash([item["hash"], item["mask"] and file_hash(item["mask"])])
        out.append(item)
    return out


@dataclass
class PhotoJob:
    """A photo command over a folder (a noisekit.batch job): the model and options every photo gets, the device,
    and for inpainting the folder of masks; an item is one photo."""

    model: str
    options: DenoiseOptions | InpaintOptions
    device: str = "cpu"
    masks: str | None = None

    @property
    def command(self) -> str:
        return "denoise" if isinstance(self.options, DenoiseOptions) else "inpaint"

    @property
    def hash(self) -> str:
        return value_hash([self.command, self.model, asdict(self.options)])

    def start(self):
        """In each worker: the model, loaded once."""
        model = load_model(self.model, device=devices.check_device(self.device))

        def work(item, folder):
            target = os.path.join(folder, item["key"])
            with devices.use_device(self.device):
                if self.command == "denoise":
                    denoise_file(model, self.options, item["input"], target)
                elif item["mask"] is None:
                    raise FileNotFoundError(f"no mask for {item['key']} in {self.masks} (give it the photo's name)")
                else:
                    inpaint_file(model, self.options, item["input"], item["mask"], target)
        return work

    def commit(self, item, files, out_dir, value):
        return [write_new(os.path.join(out_dir, name), lambda f, data=data: f.write(data))
                for name, data in files.items()], None


def run_folder(job: PhotoJob, folder: str, out_dir: str, workers: int | None = None, ray: str | None = None,
               json_progress: bool = False) -> int:
    """Every photo of ``folder`` into ``out_dir``. Exit 0 all done, 3 a photo failed (its error in the
    manifest), 130 interrupted, 143 terminated (SIGTERM)."""
    if workers is not None and workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    if job.command == "inpaint" and not os.path.isdir(job.masks):
        raise ValueError(f"{job.masks}: with a folder of photos, MASK must be a folder of masks")
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ValueError(f"{out_dir} is a file; with a folder of photos, OUT must be a folder")
    devices.check_device(job.device)
    summary = batch.run_items(items(folder, job.masks), job, os.path.abspath(out_dir), workers, ray, job.device,
                              json_progress, desc=job.command)
    return batch.exit_code(summary)
