"""Golden regression checks: a run's outputs against stored golden files, with tolerances that suit images.

A run's outputs, named by node id so that SaveImage's file counters do not matter:
every image file an output node lists in its ui (``9_0.png``: node 9, first image), and, for an
output node that wrote no image, the tensors and numbers linked into it (LATENT samples and
noise_mask, SIGMAS, MASK, IMAGE, INT/FLOAT/BOOLEAN), one safetensors file per node (``12.safetensors``).

``DIR/golden.json`` is the sidecar: ``tolerance`` (kept across ``--update-golden``; edit it per graph)
and the content hash of each golden. An image passes when PSNR >= ``psnr`` dB, SSIM >= ``ssim`` and
max |a - b| <= ``max_abs`` (pixels in [0, 1]); a tensor when max |a - b| <= ``max_abs`` and PSNR
(peak = the golden's range) >= ``psnr``; a null threshold is not checked; ``"exact": true`` compares
content hashes only. Content hashes are of decoded pixels / tensor bytes, not of file bytes, so they
agree across machines whose PNG encoders differ.

Per device class (devices.device_class: ``cpu``, ``cuda-8.9``, ``mps``): DIR itself holds the goldens recorded
on the CPU, ``DIR/<class>/`` those recorded on another class. A run is compared with its own class's goldens
where they exist, else with the CPU's at the cross-device tolerance (CROSS_DEVICE_TOLERANCE, or the sidecar's
own where that is looser): GPU kernels (TF32 convolutions, other summation orders) move pixels slightly, and
a many-step sampler carries that along.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image
from scipy.ndimage import uniform_filter

from ..files import file_hash, read_limited, replace_kept, value_hash, write_numbered
from .formats import MAX_GRAPH_BYTES, is_link, parse_json
from .report import image_paths

SIDECAR = "golden.json"
DEFAULT_TOLERANCE = {"psnr": 40.0, "ssim": 0.98, "max_abs": 0.02, "exact": False}
CROSS_DEVICE_TOLERANCE = {"psnr": 35.0, "ssim": 0.97, "max_abs": None, "exact": False}


@dataclass
class Output:
    """One output of a run: an image file (pixels in [0, 1], [H, W, C]) or named tensors."""
    name: str
    path: str | None = None
    tensors: dict = field(default_factory=dict)

    @property
    def is_image(self) -> bool:
        return self.path is not None

    def pixels(self) -> np.ndarray:
        return read_pixels(self.path)

    def content_hash(self) -> str:
        if self.is_image:
            return picture_hash(self.path)
        return tensor_hash(self.tensors)


@contextlib.contextmanager
def own_picture(path: str):
    """Image.open for a picture noisekit wrote (an output, a golden) without Pillow's decompression-bomb limit:
    the run held it in memory already."""
    limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        img = Image.open(path)
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    with img:
        yield img


def stored_values(path: str) -> tuple[np.ndarray, float]:
    """The stored integer values [H, W, C] (C = 1, 3 or 4 as stored) and their maximum."""
    with own_picture(path) as img:
        if img.mode in ("I", "I;16", "I;16B"):
            return np.asarray(img)[..., None], 65535.0
        img = img if img.mode in ("L", "RGB", "RGBA") else img.convert("RGBA" if "A" in img.getbands() else "RGB")
        array = np.asarray(img)
    return (array[..., None] if array.ndim == 2 else array), 255.0


def read_pixels(path: str) -> np.ndarray:
    """[H, W, C] float64 in [0, 1] (C = 1, 3 or 4 as stored; 16-bit greys scaled to [0, 1])."""
    values, peak = stored_values(path)
    return values.astype(np.float64) / peak


def pixel_hash(pixels: np.ndarray) -> str:
    """sha256 of the decoded pixels (stored value / max, exact in float64) and their shape."""
    data = np.ascontiguousarray(pixels, dtype=np.float64).tobytes()
    return hashlib.sha256(f"pixels {list(pixels.shape)}|".encode() + data).hexdigest()


def picture_hash(path: str, rows: int = 64) -> str:
    """``pixel_hash(read_pixels(path))``, the same digest, with the float64 values made ``rows`` rows at a
    time (sha256 is a stream): a picture costs its stored values, not eight bytes a value."""
    values, peak = stored_values(path)
    digest = hashlib.sha256(f"pixels {list(values.shape)}|".encode())
    for start in range(0, values.shape[0], rows):
        digest.update((values[start:start + rows].astype(np.float64) / peak).tobytes())
    return digest.hexdigest()


def tensor_hash(tensors: dict) -> str:
    digest = hashlib.sha256()
    for key in sorted(tensors):
        t = tensors[key].detach().cpu().contiguous()
        digest.update(f"{key} {t.dtype} {list(t.shape)}|".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def as_tensors(name: str, value) -> dict:
    """The tensors a linked value holds, keyed under ``name`` (LATENT keys, list items); {} for others
    (MODEL, CONDITIONING, ...), which have no stable numeric content to compare."""
    if isinstance(value, torch.Tensor):
        return {name: value.detach().cpu()}
    if isinstance(value, bool):
        return {name: torch.tensor(value)}
    if isinstance(value, int):
        return {name: torch.tensor(value, dtype=torch.int64)}
    if isinstance(value, float):
        return {name: torch.tensor(value, dtype=torch.float64)}
    if isinstance(value, dict) and isinstance(value.get("samples"), torch.Tensor):
        return {f"{name}.{k}": v.detach().cpu() for k, v in value.items() if isinstance(v, torch.Tensor)}
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, (torch.Tensor, int, float)) for v in value):
        return {k: v for i, item in enumerate(value) for k, v in as_tensors(f"{name}.{i}", item).items()}
    return {}


def collect(prompt: dict, result, node_classes: dict) -> dict[str, Output]:
    """name -> Output for every output node that ran (executed or cached)."""
    ran = [*result.executed, *result.cached]
    outputs = {}
    for node_id in sorted(set(ran), key=lambda n: (len(n), n)):
        if getattr(node_classes.get(prompt[node_id]["class_type"]), "OUTPUT_NODE", False) is not True:
            continue
        ui = result.ui.get(node_id) or {}
        files = image_paths({node_id: ui}, "output") + image_paths({node_id: ui}, "temp")
        for i, path in enumerate(files):
            name = f"{node_id}_{i}{os.path.splitext(path)[1].lower() or '.png'}"
            outputs[name] = Output(name, path=path)
        if files:
            continue
        tensors = {}
        for input_name, value in sorted(prompt[node_id]["inputs"].items()):
            source = result.outputs.get(value[0]) if is_link(value) else None
            if source is not None and value[1] < len(source):
                tensors.update(as_tensors(input_name, source[value[1]]))
        if tensors:
            outputs[f"{node_id}.safetensors"] = Output(f"{node_id}.safetensors", tensors=tensors)
    return outputs


def hashes(outputs: dict[str, Output]) -> dict[str, str]:
    return {name: out.content_hash() for name, out in outputs.items()}


def tensor_file(tensors: dict) -> bytes:
    """Named tensors as a safetensors file's bytes."""
    from safetensors.torch import save

    return save({k: v.contiguous() for k, v in tensors.items()})


def to_bytes(outputs: dict[str, Output]) -> dict[str, bytes]:
    """name -> the output as a file's bytes (an image file's own, named tensors as safetensors): what a worker of
    ``run --over`` sends back for the goldens, as it sends its files."""
    def data(out: Output) -> bytes:
        if not out.is_image:
            return tensor_file(out.tensors)
        with open(out.path, "rb") as f:
            return f.read()
    return {name: data(out) for name, out in outputs.items()}


def from_bytes(sent: dict[str, bytes], folder: str) -> dict[str, Output]:
    """The outputs ``to_bytes`` made, their images written into ``folder`` (numbered: a name holds a node id,
    which is no safe file name)."""
    from safetensors.torch import load

    outputs = {}
    for i, (name, data) in enumerate(sorted(sent.items())):
        if name.endswith(".safetensors"):
            outputs[name] = Output(name, tensors=load(data))
            continue
        path = os.path.join(folder, f"{i}{os.path.splitext(name)[1]}")
        with open(path, "wb") as f:
            f.write(data)
        outputs[name] = Output(name, path=path)
    return outputs


# --- image measures -------------------------------------------------------------------------------

def psnr(a: np.ndarray, b: np.ndarray, peak: float = 1.0) -> float:
    mse = float(np.mean((a - b) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(peak**2 / mse)


def ssim(a: np.ndarray, b: np.ndarray, window: int = 7) -> float:
    """Mean SSIM (Wang et al. 2004) of [H, W, C] images in [0, 1]: local means, variances and
    covariance over a ``window``-square uniform window (sample covariance), K1 = 0.01, K2 = 0.03,
    the border where the window does not fit left out, averaged over channels (scikit-image's defaults)."""
    window = max(1, min(window, a.shape[0], a.shape[1]))
    window -= (window + 1) % 2  # odd
    c1, c2, n = 0.01**2, 0.03**2, window * window
    cov = n / (n - 1) if n > 1 else 1.0
    scores = []
    for ch in range(a.shape[2]):
        x, y = a[..., ch], b[..., ch]
        mx, my = uniform_filter(x, window), uniform_filter(y, window)
        vx = cov * (uniform_filter(x * x, window) - mx * mx)
        vy = cov * (uniform_filter(y * y, window) - my * my)
        vxy = cov * (uniform_filter(x * y, window) - mx * my)
        s = ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
        pad = (window - 1) // 2
        scores.append(s[pad:s.shape[0] - pad, pad:s.shape[1] - pad].mean())
    return float(np.mean(scores))


def compare_arrays(golden: np.ndarray, actual: np.ndarray, tolerance: dict, image: bool) -> dict:
    """Measures and verdict for one pair of arrays."""
    if golden.shape != actual.shape:
        return {"pass": False, "reason": f"shape {list(actual.shape)} differs from the golden's {list(golden.shape)}"}
    if golden.size == 0:
        return {"pass": True}
    golden, actual = golden.astype(np.float64), actual.astype(np.float64)
    peak = 1.0 if image else (float(golden.max() - golden.min()) or 1.0)
    measures = {"max_abs": float(np.abs(golden - actual).max()), "psnr": psnr(golden, actual, peak)}
    if image:
        measures["ssim"] = ssim(golden, actual)
    failed = [f"{key} {measures[key]:.6g} {'>' if key == 'max_abs' else '<'} {tolerance[key]}"
              for key in ("psnr", "ssim", "max_abs") if key in measures and tolerance.get(key) is not None
              and (measures[key] > tolerance[key] if key == "max_abs" else measures[key] < tolerance[key])]
    return {**{k: (None if math.isinf(v) else v) for k, v in measures.items()},  # inf: identical
            "pass": not failed, **({"reason": "; ".join(failed)} if failed else {})}


# --- pictures of a mismatch -----------------------------------------------------------------------

def picture(array: np.ndarray, low: float, high: float) -> np.ndarray:
    """uint8 [H, W, 3] of an image [H, W, C] or a tensor (first batch item, channels averaged)."""
    x = np.asarray(array, dtype=np.float64)
    while x.ndim > 3:
        x = x[0]
    if x.ndim == 3:
        x = x if x.shape[-1] in (1, 3, 4) and x.shape[-1] < x.shape[0] else x.mean(axis=int(np.argmin(x.shape)))
    if x.ndim == 1:
        x = x[None]
    x = (x - low) / (high - low or 1.0)
    x = np.repeat(x[..., None], 3, -1) if x.ndim == 2 else (np.repeat(x, 3, -1) if x.shape[-1] == 1 else x[..., :3])
    return (np.clip(x, 0, 1) * 255.0 + 0.5).astype(np.uint8)


def diff_picture(golden: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """uint8 [H, W, 3]: |actual - golden|, stretched so that the largest difference is white (all black: equal)."""
    diff = np.abs(actual.astype(np.float64) - golden.astype(np.float64))
    return picture(diff, 0.0, float(diff.max()) or 1.0)


def write_pictures(directory: str, name: str, golden: np.ndarray, actual: np.ndarray) -> dict:
    """A diff image (|actual - golden|, stretched so the largest difference is white) and golden | actual |
    diff side by side, in ``directory``, never replacing a file."""
    os.makedirs(directory, exist_ok=True)
    low, high = float(min(golden.min(), actual.min())), float(max(golden.max(), actual.max()))
    diff_pic = diff_picture(golden, actual)
    side = np.concatenate([picture(golden, low, high), np.full((diff_pic.shape[0], 4, 3), 255, np.uint8),
                           picture(actual, low, high), np.full((diff_pic.shape[0], 4, 3), 255, np.uint8),
                           diff_pic], axis=1)
    paths = {}
    for kind, pixels in (("diff", diff_pic), ("side_by_side", side)):
        stem = f"{name.replace('.', '_')}.{kind}"
        paths[kind], _ = write_numbered(directory, lambda n, s=stem: f"{s}.png" if n == 0 else f"{s}_{n}.png", 0,
                                        lambda f, p=pixels: Image.fromarray(p).save(f, format="PNG"))
    return paths


# --- the golden directory -------------------------------------------------------------------------

def read_sidecar(directory: str) -> dict:
    path = os.path.join(directory, SIDECAR)
    if not os.path.isfile(path):
        return {"tolerance": dict(DEFAULT_TOLERANCE), "outputs": {}}
    data = parse_json(read_limited(path, MAX_GRAPH_BYTES, "a goldens' sidecar"), path)
    if not (isinstance(data, dict) and isinstance(data.get("tolerance") or {}, dict)
            and isinstance(data.get("outputs") or {}, dict)):
        raise ValueError(f"{path}: not a goldens' sidecar (an object with 'tolerance' and 'outputs' objects)")
    unknown = set(data.get("tolerance") or {}) - set(DEFAULT_TOLERANCE)
    if unknown:
        raise ValueError(f"{path}: unknown tolerance key(s) {sorted(unknown)}; known: {sorted(DEFAULT_TOLERANCE)}")
    wrong = [k for k, v in (data.get("tolerance") or {}).items()
             if not (isinstance(v, bool) if k == "exact" else v is None or type(v) in (int, float))]
    if wrong:
        raise ValueError(f"{path}: tolerance {', '.join(wrong)} must be a number or null ('exact': true or false)")
    return {"tolerance": {**DEFAULT_TOLERANCE, **(data.get("tolerance") or {})}, "outputs": data.get("outputs") or {}}


def class_dir(directory: str, device_class: str) -> str:
    """Where the goldens of ``device_class`` are recorded: DIR for the CPU, DIR/<class>/ for any other."""
    return directory if device_class == "cpu" else os.path.join(directory, device_class)


def looser(tolerance: dict, other: dict) -> dict:
    """Each threshold the looser of the two (a null one, not checked, is loosest); never exact."""
    def pick(key, loose):
        a, b = tolerance.get(key), other.get(key)
        return None if a is None or b is None else loose(a, b)
    return {"psnr": pick("psnr", min), "ssim": pick("ssim", min), "max_abs": pick("max_abs", max), "exact": False}


def copy_into(path: str, f):
    with open(path, "rb") as source:
        shutil.copyfileobj(source, f)


def update(directory: str, outputs: dict[str, Output], device_class: str = "cpu") -> dict:
    """Record the outputs as the goldens of ``device_class`` (class_dir; the tolerance already in its sidecar is
    kept, a new class's starts from the CPU's). A golden recorded before is replaced; any other file of that name
    is refused, never replaced (files.replace_kept)."""
    directory, base = class_dir(directory, device_class), directory
    os.makedirs(directory, exist_ok=True)
    own = read_sidecar(directory)
    tolerance = (own if os.path.isfile(os.path.join(directory, SIDECAR)) else read_sidecar(base))["tolerance"]
    for name, out in outputs.items():
        target, kept = os.path.join(directory, name), name in own["outputs"]
        if out.is_image:
            replace_kept(target, lambda f, src=out.path: copy_into(src, f), kept)
        else:
            replace_kept(target, lambda f, t=out.tensors: f.write(tensor_file(t)), kept)
    recorded = hashes(outputs)
    text = json.dumps({"tolerance": tolerance, "outputs": recorded}, indent=2).encode("utf-8")
    path = os.path.join(directory, SIDECAR)
    replace_kept(path, lambda f: f.write(text), kept=os.path.isfile(path))  # read_sidecar read it: it is one
    return {"dir": directory, "status": "updated", "tolerance": tolerance,
            "outputs": {name: {"sha256": h} for name, h in recorded.items()}}


def compared_dir(directory: str, device_class: str) -> str:
    """The folder of goldens a run on ``device_class`` is compared with: the class's own where recorded, else
    the CPU's."""
    own = class_dir(directory, device_class)
    return own if os.path.isfile(os.path.join(own, SIDECAR)) else directory


def for_device(directory: str, device_class: str) -> tuple[str, dict]:
    """(compared_dir, its sidecar with the tolerance that applies: another class's run compared with the CPU's
    goldens gets the cross-device tolerance)."""
    folder = compared_dir(directory, device_class)
    sidecar = read_sidecar(folder)
    if folder == directory and device_class != "cpu":
        sidecar["tolerance"] = looser(sidecar["tolerance"], CROSS_DEVICE_TOLERANCE)
    return folder, sidecar


def fingerprint(directory: str, device_class: str) -> str:
    """A hash of what a check on ``device_class`` compares with: the class (it decides the tolerance) and the
    content of every file in compared_dir (goldens and sidecar). A verdict kept with it holds while it is
    unchanged."""
    folder = compared_dir(directory, device_class)
    names = sorted(n for n in os.listdir(folder) if os.path.isfile(os.path.join(folder, n))) \
        if os.path.isdir(folder) else []
    return value_hash([device_class, {n: file_hash(os.path.join(folder, n)) for n in names}])


def check(directory: str, outputs: dict[str, Output], pictures_dir: str, device_class: str = "cpu") -> dict:
    """Compare the outputs with the goldens of ``device_class`` (for_device); on a mismatch write pictures into
    ``pictures_dir``."""
    from safetensors.torch import load_file

    directory, sidecar = for_device(directory, device_class)
    tolerance, expected = sidecar["tolerance"], sidecar["outputs"]
    if not expected:
        raise ValueError(f"{directory}: no goldens recorded ({SIDECAR} missing or empty); "
                         "record them with --update-golden")
    report = {"dir": directory, "device_class": device_class, "tolerance": tolerance, "outputs": {},
              "missing": sorted(set(expected) - set(outputs)), "unexpected": sorted(set(outputs) - set(expected))}
    for name in sorted(set(expected) & set(outputs)):
        out, golden_path = outputs[name], os.path.join(directory, name)
        if out.is_image:
            golden, actual = read_pixels(golden_path), out.pixels()
            entry = {"sha256": pixel_hash(actual), "golden_sha256": pixel_hash(golden),
                     **compare_arrays(golden, actual, tolerance, image=True)}
            pairs = [(golden, actual)]
        else:
            stored = load_file(golden_path)
            keys = sorted(set(stored) | set(out.tensors))
            parts = {k: compare_arrays(stored[k].double().numpy(), out.tensors[k].double().numpy(), tolerance, False)
                     if k in stored and k in out.tensors else {"pass": False, "reason": "only in one of the two"}
                     for k in keys}
            failed = [f"{k}: {p['reason']}" for k, p in parts.items() if not p["pass"]]
            entry = {"sha256": tensor_hash(out.tensors), "golden_sha256": tensor_hash(stored), "pass": not failed,
                     "tensors": parts, **({"reason": "; ".join(failed)} if failed else {})}
            pairs = [(stored[k].double().numpy(), out.tensors[k].double().numpy()) for k in keys
                     if k in stored and k in out.tensors and stored[k].shape == out.tensors[k].shape
                     and stored[k].numel() and not parts[k]["pass"]]
        if tolerance.get("exact"):  # the content hashes decide
            entry["pass"] = entry["sha256"] == entry["golden_sha256"]
            entry["reason"] = None if entry["pass"] else "exact: content hash differs from the golden's"
        if not entry["pass"] and pairs and pairs[0][0].shape == pairs[0][1].shape:
            entry.update(write_pictures(pictures_dir, name, *pairs[0]))
        report["outputs"][name] = entry
    ok = all(e["pass"] for e in report["outputs"].values()) and not report["missing"] and not report["unexpected"]
    report["status"] = "passed" if ok else "failed"
    return report


def mismatch_message(report: dict) -> str:
    """What a failed check says: where its goldens are, then a line per failing output."""
    lines = "".join(f"\n  - {line}" for line in summary(report))
    return f"outputs differ from the goldens in {report['dir']}:{lines}"


def summary(report: dict, pictures: bool = True) -> list[str]:
    """One line per failing output, for the terminal (with where its diff picture is, unless not ``pictures``)."""
    lines = [f"{name}: {entry.get('reason', 'differs')}" + (f" (diff: {entry['diff']})" if "diff" in entry and pictures
                                                              else "")
             for name, entry in report["outputs"].items() if not entry["pass"]]
    lines += [f"{name}: golden recorded but the run produced no such output" for name in report["missing"]]
    lines += [f"{name}: output has no golden (record it with --update-golden)" for name in report["unexpected"]]
    return lines
