"""The runner's tests run without ComfyUI even where NOISEKIT_COMFYUI is set (tests/comfyui uses it)."""
import pytest


@pytest.fixture(autouse=True)
def no_comfyui(monkeypatch):
    monkeypatch.delenv("NOISEKIT_COMFYUI", raising=False)
