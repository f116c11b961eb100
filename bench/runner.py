"""Runner overhead: a chain of trivial nodes, cold run vs a rerun after one changed widget; and, with
``--comfyui PATH``, ComfyUI's nodes run in-process by noisekit against ComfyUI's own server on the same graph.

``python -m noisekit.bench runner [--nodes 50] [--repeat 20]`` prints per-node overhead
(validation + scheduling + caching around nodes that do nothing) and the time of a
rerun where only the last node's widget changed, which should cost one node.

``python -m noisekit.bench runner --comfyui PATH`` (in a venv that runs that ComfyUI) also times a chain of
ComfyUI's trivial string nodes (PrimitiveString -> StringConcatenate x (n - 2) -> PreviewAny), every node
executed (a fresh string each repeat defeats the cache), two ways in one run: ComfyUI's server (POST /prompt
until its websocket says the prompt is done, which is after its history entry is written; first node = the
first ``executing`` message) and ``ComfyRunner`` in this process (same events, no HTTP). The server is
started, measured and stopped before ComfyUI is loaded here, so only one ComfyUI runs at a time.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

from ..runner.execute import Runner


class Step:
    RETURN_TYPES = ("INT",)
    FUNCTION = "step"
    CATEGORY = "bench"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"amount": ("INT", {"default": 1, "min": 0, "max": 100})},
                "optional": {"x": ("INT", {"forceInput": True})}}

    def step(self, amount, x=0):
        return (x + amount,)


class Sink:
    RETURN_TYPES = ()
    FUNCTION = "sink"
    OUTPUT_NODE = True
    CATEGORY = "bench"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"x": ("INT", {"forceInput": True})}}

    def sink(self, x):
        return {"ui": {"x": [x]}}


def chain(n: int) -> dict:
    """n - 1 Step nodes in a row and a Sink: n nodes."""
    prompt = {"1": {"class_type": "Step", "inputs": {"amount": 1}}}
    for i in range(2, n):
        prompt[str(i)] = {"class_type": "Step", "inputs": {"amount": 1, "x": [str(i - 1), 0]}}
    prompt[str(n)] = {"class_type": "Sink", "inputs": {"x": [str(n - 1), 0]}}
    return prompt


def measure(n: int, repeat: int) -> dict:
    classes = {"Step": Step, "Sink": Sink}
    cold, rerun, cached = [], [], []
    for r in range(repeat):
        runner, prompt = Runner(classes), chain(n)
        start = time.perf_counter()
        runner.run(prompt)
        cold.append(time.perf_counter() - start)
        prompt[str(n - 1)]["inputs"]["amount"] = 2 + r % 50  # one widget, next to the output
        start = time.perf_counter()
        result = runner.run(prompt)
        rerun.append(time.perf_counter() - start)
        assert result.executed == [str(n - 1), str(n)], result.executed
        start = time.perf_counter()
        runner.run(prompt)
        cached.append(time.perf_counter() - start)
    best = {"cold": min(cold), "rerun_one_changed": min(rerun), "all_cached": min(cached)}
    return {**best, "nodes": n, "per_node_ms": 1000 * best["cold"] / n}


# --- ComfyUI in-process vs ComfyUI's server -------------------------------------------------------------

def string_chain(n: int, tag: str) -> dict:
    """PrimitiveString -> StringConcatenate x (n - 2) -> PreviewAny: n of ComfyUI's trivial nodes."""
    prompt = {"1": {"class_type": "PrimitiveString", "inputs": {"value": tag}}}
    for i in range(2, n):
        prompt[str(i)] = {"class_type": "StringConcatenate",
                          "inputs": {"string_a": [str(i - 1), 0], "string_b": "x", "delimiter": ""}}
    prompt[str(n)] = {"class_type": "PreviewAny", "inputs": {"source": [str(n - 1), 0]}}
    return prompt


def timed_events(stamps: dict, start: float):
    """on_event that notes the first node's start and the end of the prompt."""
    def on_event(event, data):
        if event == "executing" and data.get("node") is not None:
            stamps.setdefault("first_node", time.perf_counter() - start)
        elif event == "executing" and data.get("node") is None:
            stamps["done"] = time.perf_counter() - start
    return on_event


async def _server_runs(url: str, n: int, repeat: int) -> list[dict]:
    import aiohttp

    client, runs = uuid.uuid4().hex, []
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"{url.replace('http', 'ws')}/ws?clientId={client}") as ws:
            for r in range(repeat + 1):  # the first is a warm-up
                stamps, start = {}, time.perf_counter()
                on_event = timed_events(stamps, start)
                body = {"prompt": string_chain(n, f"server-{r}-{uuid.uuid4().hex}"), "client_id": client}
                async with session.post(f"{url}/prompt", json=body) as answer:
                    prompt_id = (await answer.json())["prompt_id"]
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        continue
                    event = json.loads(msg.data)
                    if (event.get("data") or {}).get("prompt_id") == prompt_id:
                        on_event(event["type"], event["data"])
                    if "done" in stamps:
                        break
                async with session.get(f"{url}/history/{prompt_id}") as answer:
                    assert (await answer.json())[prompt_id]["status"]["status_str"] == "success"
                runs.append(stamps)
    return runs[1:]


def server_times(comfyui: str, n: int, repeat: int) -> list[dict]:
    """Start ComfyUI's server on 127.0.0.1 in a throw-away base directory, time the chain, stop it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as base:
        os.makedirs(os.path.join(base, "custom_nodes"))
        with open(os.path.join(base, "server.log"), "w") as log:
            server = subprocess.Popen([sys.executable, "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(port),
                                       "--base-directory", base, "--database-url", "sqlite:///:memory:"],
                                      cwd=comfyui, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + 180
            while True:
                try:
                    urllib.request.urlopen(url + "/system_stats", timeout=5).read()
                    break
                except OSError:
                    if server.poll() is not None or time.time() > deadline:
                        raise SystemExit(f"ComfyUI's server did not start; see {base}/server.log") from None
                    time.sleep(0.5)
            return asyncio.run(_server_runs(url, n, repeat))
        finally:
            server.terminate()
            server.wait(timeout=30)


def inprocess_times(comfyui: str, n: int, repeat: int) -> tuple[list[dict], float]:
    from ..runner.comfy_runner import ComfyRunner

    start = time.perf_counter()
    runner = ComfyRunner(comfyui, "cpu")
    load = time.perf_counter() - start
    runs = []
    for r in range(repeat + 1):
        stamps, start = {}, time.perf_counter()
        runner.on_event = timed_events(stamps, start)
        result = runner.run(string_chain(n, f"inprocess-{r}-{uuid.uuid4().hex}"))
        assert len(result.executed) == n, result.executed
        runs.append(stamps)
    return runs[1:], load


def compare_with_server(comfyui: str, n: int, repeat: int):
    served = server_times(comfyui, n, repeat)
    local, load = inprocess_times(comfyui, n, repeat)
    best = lambda runs, key: min(r[key] for r in runs)  # noqa: E731
    print(f"\nComfyUI from {comfyui}: {n} trivial string nodes, every one executed (best of {repeat}):")
    print(f"  {'':28}{'first node':>12}{'whole graph':>14}{'per node':>12}")
    for name, runs in (("ComfyUI server (HTTP + ws)", served), ("noisekit, in-process", local)):
        print(f"  {name:28}{1000 * best(runs, 'first_node'):9.2f} ms{1000 * best(runs, 'done'):11.2f} ms"
              f"{1000 * best(runs, 'done') / n:9.3f} ms")
    print(f"  in-process / server: first node x{best(local, 'first_node') / best(served, 'first_node'):.3f}, "
          f"whole graph x{best(local, 'done') / best(served, 'done'):.3f}")
    print(f"  (loading ComfyUI in-process took {load:.1f} s, once per process)")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m noisekit.bench runner", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--comfyui", metavar="PATH", help="also compare ComfyUI in-process with its own server")
    args = parser.parse_args(argv)
    m = measure(args.nodes, args.repeat)
    print(f"{m['nodes']} trivial nodes (best of {args.repeat}):")
    print(f"  cold run            {1000 * m['cold']:8.2f} ms   ({m['per_node_ms']:.3f} ms per node)")
    print(f"  rerun, 1 widget     {1000 * m['rerun_one_changed']:8.2f} ms   (2 nodes executed)")
    print(f"  rerun, all cached   {1000 * m['all_cached']:8.2f} ms")
    if args.comfyui:
        compare_with_server(os.path.abspath(args.comfyui), args.nodes, args.repeat)


if __name__ == "__main__":
    main()
