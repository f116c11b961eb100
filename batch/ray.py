"""The same work as Ray actors on a cluster; Ray is optional (``pip install 'noisekit[ray]'``)."""
from __future__ import annotations

import contextlib
import os
import tempfile

from .job import BatchError, attempt, start_quietly, worker_died


class RayWorker:
    """A Ray actor: the job started once (one model load), then items one at a time. It works in the
    submitter's folder when its machine has one (relative paths in a graph mean the same there)."""

    def __init__(self, job, cwd: str, threads: int):
        if os.path.isdir(cwd):
            os.chdir(cwd)
        self.work = start_quietly(job, threads)

    def pid(self) -> int:
        return os.getpid()

    def run(self, item: dict) -> dict:
        return attempt(self.work, item, tempfile.mkdtemp(prefix="noisekit-batch-"))  # removed when done


class RayPool:
    """The same work as Ray actors on a cluster (``address``: host:port, "auto", or "local" to start one
    on this machine, listening on 127.0.0.1 only); a GPU per actor when ``gpus``. Ray is optional."""

    def __init__(self, job, workers: int | None, address: str, gpus: int, threads: int):
        if address == "local":
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # bind 127.0.0.1, not the LAN
        try:
            import ray
        except ImportError:
            raise BatchError("--ray needs Ray: pip install 'noisekit[ray]'") from None
        self.ray, self.started = ray, not ray.is_initialized()
        if self.started:
            try:
                ray.init(**({"include_dashboard": False} if address == "local" else {"address": address}))
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise BatchError(f"--ray {address}: no Ray cluster there ({e}); start one with `ray start --head` "
                                 "or use --ray local") from None
        kind = "GPU" if gpus else "CPU"
        room = int(ray.cluster_resources().get(kind, 0))  # an actor asks for one
        if room < 1:
            raise BatchError(f"--ray {address}: the cluster has no {kind}s")
        workers = min(workers or max(1, room // (1 if gpus else threads)), room)
        actor = ray.remote(num_cpus=1, num_gpus=gpus, max_restarts=-1)(RayWorker)
        self.actors = [actor.remote(job, os.getcwd(), threads) for _ in range(workers)]
        self.pids = ray.get([a.pid.remote() for a in self.actors])
        self.running = {}  # object ref -> (actor index, item)

    def idle(self) -> bool:
        return len(self.running) < len(self.actors)

    def busy(self) -> bool:
        return bool(self.running)

    def submit(self, item: dict) -> int:
        index = next(i for i in range(len(self.actors)) if i not in {a for a, _ in self.running.values()})
        self.running[self.actors[index].run.remote(item)] = (index, item)
        return self.pids[index]

    def wait(self, timeout: float) -> list[tuple[dict, dict]]:
        ray = self.ray
        ready, rest = ray.wait(list(self.running), num_returns=1, timeout=timeout)
        if rest and ready:
            ready += ray.wait(rest, num_returns=len(rest), timeout=0)[0]
        finished = []
        for ref in ready:
            index, item = self.running.pop(ref)
            try:
                finished.append((item, ray.get(ref)))
            except ray.exceptions.RayError as e:  # the actor died (Ray restarts it)
                why = f"the Ray worker (pid {self.pids[index]}) died: {type(e).__name__}"
                finished.append((item, worker_died(why)))
                with contextlib.suppress(ray.exceptions.RayError):
                    self.pids[index] = ray.get(self.actors[index].pid.remote())
        return finished

    def close(self, kill: bool = False):
        for actor in self.actors:
            self.ray.kill(actor)
        if self.started:
            self.ray.shutdown()
