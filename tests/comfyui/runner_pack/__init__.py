"""A test-only third-party pack in ComfyUI's V3 API (never shipped): a node with an exact effect and one that fails.

Loaded by tests/comfyui/test_comfy_runner.py next to the probe pack, through ComfyUI's own loader.
"""
from comfy_api.latest import ComfyExtension, io


class ScaleLatent(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="RunnerPackScaleLatent", display_name="Scale Latent (runner pack)",
                         category="runner_pack", inputs=[io.Latent.Input("latent"),
                                                         io.Float.Input("factor", default=1.0, min=-10.0, max=10.0)],
                         outputs=[io.Latent.Output()])

    @classmethod
    def execute(cls, latent, factor):
        return io.NodeOutput({**latent, "samples": latent["samples"] * factor})


class Fail(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="RunnerPackFail", display_name="Fail (runner pack)", category="runner_pack",
                         inputs=[io.Latent.Input("latent")], outputs=[io.Latent.Output()])

    @classmethod
    def execute(cls, latent):
        raise ValueError("input 'latent': this node always fails")


class RunnerPack(ComfyExtension):
    async def get_node_list(self):
        return [ScaleLatent, Fail]


async def comfy_entrypoint():
    return RunnerPack()
