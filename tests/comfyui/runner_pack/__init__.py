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


class Dynamic(io.ComfyNode):
    """The V3 input kinds the frontend turns into widgets or sockets of its own: a DynamicCombo with a nested one,
    an Autogrow of named sockets, a combo with value controls, a seed that asks for none. Output (exact):
    latent * factor + amount + the sum of the extra latents."""

    @classmethod
    def define_schema(cls):
        extra = io.Autogrow.TemplateNames(io.Latent.Input("extra"), names=["first", "second", "third"], min=0)
        return io.Schema(node_id="RunnerPackDynamic", display_name="Dynamic (runner pack)", category="runner_pack",
                         inputs=[io.Latent.Input("latent"),
                                 io.DynamicCombo.Input("mode", options=[
                                     io.DynamicCombo.Option("keep", []),
                                     io.DynamicCombo.Option("scale", [
                                         io.Float.Input("factor", default=2.0, min=-10.0, max=10.0),
                                         io.DynamicCombo.Input("offset", options=[
                                             io.DynamicCombo.Option("none", []),
                                             io.DynamicCombo.Option("add", [io.Float.Input("amount", default=0.5)])])])]),
                                 io.Autogrow.Input("extras", template=extra),
                                 io.Combo.Input("pick", options=["a", "b", "c"], control_after_generate=True),
                                 io.Int.Input("seed", default=0, control_after_generate=False)],
                         outputs=[io.Latent.Output()])

    @classmethod
    def execute(cls, latent, mode, pick, seed, extras=None):
        samples = latent["samples"]
        if mode["mode"] == "scale":
            samples = samples * mode["factor"] + (mode["offset"].get("amount", 0.0) if mode["offset"]["offset"] == "add"
                                                  else 0.0)
        for other in (extras or {}).values():
            samples = samples + other["samples"]
        return io.NodeOutput({**latent, "samples": samples})


class RunnerPack(ComfyExtension):
    async def get_node_list(self):
        return [ScaleLatent, Fail, Dynamic]


async def comfy_entrypoint():
    return RunnerPack()
