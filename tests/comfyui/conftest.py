"""A real ComfyUI server with noisekit (and the test-only probe pack) installed, for the tests here.

Set NOISEKIT_COMFYUI to a ComfyUI checkout (the folder with main.py) and NOISEKIT_COMFYUI_PYTHON to
the Python of a venv that runs it (README: "Trying the pack in a real ComfyUI"); without them every
test here skips. NOISEKIT_FRONTEND_ROOT serves another frontend (``--front-end-root``, e.g. the newest
comfyui-frontend-package's ``static`` folder); the browser tests then also run with Nodes 2.0 on. The server runs on 127.0.0.1 in a throw-away base directory and is stopped afterwards.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).resolve().parent / "probe_pack"


def comfyui_checkout() -> Path | None:
    root = os.environ.get("NOISEKIT_COMFYUI")
    return Path(root) if root and (Path(root) / "main.py").is_file() else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, url: str, base: Path):
        self.url, self.base, self.log = url, base, base / "server.log"

    def get(self, path: str):
        with urllib.request.urlopen(self.url + path, timeout=30) as r:
            return json.loads(r.read())

    def get_status(self, path: str) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def run(self, prompt: dict, timeout: float = 120) -> dict:
        """Queue an API-format prompt and return its /history entry once it has finished."""
        body = json.dumps({"prompt": prompt, "client_id": uuid.uuid4().hex}).encode()
        request = urllib.request.Request(self.url + "/prompt", data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                prompt_id = json.loads(r.read())["prompt_id"]
        except urllib.error.HTTPError as e:
            raise AssertionError(f"ComfyUI refused the prompt: {e.read().decode()}") from None
        deadline = time.time() + timeout
        while time.time() < deadline:
            entry = self.get(f"/history/{prompt_id}").get(prompt_id)
            if entry and entry["status"].get("completed") or entry and entry["status"]["status_str"] == "error":
                return entry
            time.sleep(0.2)
        raise AssertionError(f"prompt {prompt_id} did not finish in {timeout} s")


@pytest.fixture(scope="session")
def comfyui(tmp_path_factory):
    checkout = comfyui_checkout()
    if checkout is None:
        pytest.skip("no real ComfyUI: set NOISEKIT_COMFYUI (and NOISEKIT_COMFYUI_PYTHON) to run these")
    python = os.environ.get("NOISEKIT_COMFYUI_PYTHON", sys.executable)
    base = tmp_path_factory.mktemp("comfyui")
    for sub in ("custom_nodes", "user/default/workflows", "user/default/subgraphs", "input", "output"):
        (base / sub).mkdir(parents=True)
    # a first start opens the template browser over the canvas
    (base / "user/default/comfy.settings.json").write_text(json.dumps({"Comfy.TutorialCompleted": True}))
    (base / "custom_nodes" / "noisekit").symlink_to(REPO, target_is_directory=True)
    shutil.copytree(PROBE, base / "custom_nodes" / "noisekit_probe")
    shutil.copytree(PROBE.parent / "runner_pack", base / "custom_nodes" / "noisekit_runner_pack")  # V3 inputs
    port, log = free_port(), base / "server.log"
    with open(log, "w") as out:
        frontend = os.environ.get("NOISEKIT_FRONTEND_ROOT")  # e.g. comfyui-frontend-package 1.58's static/
        proc = subprocess.Popen([python, "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(port),
                                 "--base-directory", str(base), "--database-url", "sqlite:///:memory:",
                                 *(["--front-end-root", frontend] if frontend else [])],
                                cwd=checkout, stdout=out, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", base)
    try:
        deadline = time.time() + 180
        while True:
            try:
                server.get("/system_stats")
                break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.time() > deadline:
                    raise AssertionError(f"ComfyUI did not start:\n{log.read_text()[-4000:]}") from None
                time.sleep(0.5)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
