"""Runner overhead: a chain of trivial nodes, cold run vs a rerun after one changed widget.

``python -m noisekit.bench runner [--nodes 50] [--repeat 20]`` prints per-node overhead
(validation + scheduling + caching around nodes that do nothing) and the time of a
rerun where only the last node's widget changed, which should cost one node.
"""
from __future__ import annotations

import argparse
import time

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


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m noisekit.bench runner", description=__doc__)
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    m = measure(args.nodes, args.repeat)
    print(f"{m['nodes']} trivial nodes (best of {args.repeat}):")
    print(f"  cold run            {1000 * m['cold']:8.2f} ms   ({m['per_node_ms']:.3f} ms per node)")
    print(f"  rerun, 1 widget     {1000 * m['rerun_one_changed']:8.2f} ms   (2 nodes executed)")
    print(f"  rerun, all cached   {1000 * m['all_cached']:8.2f} ms")


if __name__ == "__main__":
    main()
