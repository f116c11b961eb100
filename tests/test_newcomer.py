"""A new user's first run: the README's main-job command, run as a process from a fresh copy of the
repository (only the files a checkout has that the command needs), writes the denoised photo and says
where, and nothing else, on stdout."""
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from noisekit.photo.estimate import estimate_sigma

ROOT = Path(__file__).resolve().parents[1]


def readme_main_job() -> list[str]:
    """The last command (after the installs) of the "Two commands" block that runs a graph."""
    section = (ROOT / "README.md").read_text().split("## Two commands", 1)[1].split("\n## ", 1)[0]
    (block,) = [b for b in re.findall(r"```bash\n(.+?)\n```", section, re.S) if "noisekit run" in b]
    return shlex.split(block.split("&&")[-1])


def fresh_copy(dest: Path) -> Path:
    """The package's modules (every package pyproject.toml lists), the bundled weights and the example graphs."""
    packages = re.findall(r'"noisekit((?:\.\w+)*)"', (ROOT / "pyproject.toml").read_text().split("packages = [", 1)[1]
                          .split("]", 1)[0])
    for package in packages:
        folder = ROOT.joinpath(*package.split(".")[1:])
        (dest / folder.relative_to(ROOT)).mkdir(parents=True, exist_ok=True)
        for module in folder.glob("*.py"):
            shutil.copy(module, dest / module.relative_to(ROOT))
    shutil.copytree(ROOT / "models" / "weights", dest / "models" / "weights")
    shutil.copytree(ROOT / "example_workflows", dest / "example_workflows", ignore=shutil.ignore_patterns("*.py"))
    return dest


def test_the_readme_main_job_runs_from_a_fresh_copy(tmp_path):
    command = readme_main_job()
    assert command[:2] == ["noisekit", "run"] and "--output-dir" in command
    repo = fresh_copy(tmp_path / "noisekit")  # `cd noisekit` after the clone
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}  # `import noisekit` finds the copy, not this checkout
    entry_point = ("import sys, noisekit.cli; print('cli:', noisekit.cli.__file__, file=sys.stderr); "
                   "sys.exit(noisekit.cli.main())")  # what the `noisekit` script runs, and which file it ran
    done = subprocess.run([sys.executable, "-c", entry_point, *command[1:]], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    used = re.search(r"^cli: (.+)$", done.stderr, re.M)[1]
    assert Path(used).resolve() == (repo / "cli.py").resolve()
    printed = done.stdout.splitlines()
    output_dir = repo / command[command.index("--output-dir") + 1]
    assert printed == [str(output_dir / "noisekit_denoised_00001_.png")]  # where the result is, and only that
    assert "Traceback" not in done.stderr

    noisy = np.asarray(Image.open(repo / "example_workflows" / "input" / "coffee_noisy25.png").convert("RGB"))
    result = np.asarray(Image.open(printed[0]).convert("RGB"))
    assert result.shape == noisy.shape
    as_image = lambda a: torch.from_numpy(a.astype(np.float32) / 255)
    assert estimate_sigma(as_image(noisy)) * 255 > 20 and estimate_sigma(as_image(result)) * 255 < 5
    assert os.listdir(output_dir) == ["noisekit_denoised_00001_.png"]  # no temporary files left behind
