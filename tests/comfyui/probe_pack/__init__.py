"""A test-only ComfyUI pack (never shipped): an exact analytic MODEL and the plumbing to read results.

Loaded next to noisekit by tests/comfyui/ when a real ComfyUI is available. The MODEL is ComfyUI's own
BaseModel + ModelPatcher hosting the exact eps-predictor for data ~ N(target, std^2) per pixel, so a
sampler's output has a closed-form answer (std = 0: every sample equals ``target``) and needs no checkpoint.
"""
import torch


class AnalyticEpsNet(torch.nn.Module):
    """BaseModel calls it with xc = x / sqrt(sigma^2 + 1) and the exact sigma in transformer_options."""

    def __init__(self, target=0.25, data_std=0.0, dtype=None, device=None, operations=None, **kwargs):
        super().__init__()
        self.dtype = dtype or torch.float32
        self.target, self.data_std = float(target), float(data_std)
        self.gain = torch.nn.Parameter(torch.ones((), device=device))  # one weight for ComfyUI's loader to move

    def forward(self, xc, t, context=None, control=None, transformer_options={}, **kwargs):
        sigma = transformer_options["sigmas"].to(xc.device, torch.float32).reshape(-1)
        if sigma.numel() != xc.shape[0]:
            sigma = sigma[:1].expand(xc.shape[0])
        s = sigma.view(-1, *([1] * (xc.ndim - 1)))
        x = xc.float() * (s**2 + 1.0) ** 0.5
        v = self.data_std**2
        denoised = self.target + (v / (v + s**2)) * (x - self.target)
        return ((x - denoised) / s * self.gain).to(xc.dtype)


def analytic_model(target, data_std, channels):
    import comfy.latent_formats
    import comfy.model_base
    import comfy.model_management
    import comfy.model_patcher
    import comfy.supported_models_base

    class Format(comfy.latent_formats.LatentFormat):
        latent_channels = int(channels)
        scale_factor = 1.0

    class Config(comfy.supported_models_base.BASE):
        unet_config = {}
        unet_extra_config = {}
        latent_format = Format
        sampling_settings = {}  # ModelSamplingDiscrete on SD1.x betas: sigma 0.0292..14.61
        memory_usage_factor = 1.0
        supported_inference_dtypes = [torch.float32]

    cfg = Config({"target": float(target), "data_std": float(data_std)})
    cfg.set_inference_dtype(torch.float32, None)
    load, offload = comfy.model_management.get_torch_device(), comfy.model_management.unet_offload_device()
    model = comfy.model_base.BaseModel(cfg, model_type=comfy.model_base.ModelType.EPS, device=offload,
                                       unet_model=AnalyticEpsNet)
    return comfy.model_patcher.ModelPatcher(model, load_device=load, offload_device=offload)


class ProbeAnalyticModel:
    RETURN_TYPES = ("MODEL",)
    FUNCTION = "make"
    CATEGORY = "probe"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"target": ("FLOAT", {"default": 0.25, "min": -10, "max": 10, "step": 0.01}),
                             "data_std": ("FLOAT", {"default": 0.0, "min": 0, "max": 10, "step": 0.01}),
                             "channels": ("INT", {"default": 4, "min": 1, "max": 16})}}

    def make(self, target, data_std, channels):
        return (analytic_model(target, data_std, channels),)


class ProbeConditioning:
    RETURN_TYPES = ("CONDITIONING",)
    FUNCTION = "make"
    CATEGORY = "probe"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}}

    def make(self):
        return ([[torch.zeros((1, 1, 8)), {}]],)


class ProbeLatentStats:
    """Reports a LATENT's numbers in the history (ui) so a test can compare them with exact answers."""
    RETURN_TYPES = ()
    FUNCTION = "report"
    OUTPUT_NODE = True
    CATEGORY = "probe"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"latent": ("LATENT",)}}

    def report(self, latent):
        x = latent["samples"].double()
        return {"ui": {"probe_stats": [{"mean": float(x.mean()), "std": float(x.std()),
                                         "shape": list(x.shape), "values": x.flatten()[:64].tolist()}]}}


class ProbeImageStats:
    """Reports an IMAGE (or a MASK) in full in the history, so a test can compare it pixel by pixel."""
    RETURN_TYPES = ()
    FUNCTION = "report"
    OUTPUT_NODE = True
    CATEGORY = "probe"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",)}}

    def report(self, image):
        return {"ui": {"probe_image": [{"shape": list(image.shape), "values": image.double().flatten().tolist()}]}}


class ProbeRandomVAE:
    """ComfyUI's own SD VAE (comfy.sd.VAE: 8x downscale, 4 latent channels) with seeded random weights made
    here: no download. Its pictures mean nothing; it checks the geometry of a real VAE's route."""
    RETURN_TYPES = ("VAE",)
    FUNCTION = "make"
    CATEGORY = "probe"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}}

    def make(self):
        import comfy.sd
        from comfy.ldm.models.autoencoder import AutoencoderKL

        ddconfig = {"double_z": True, "z_channels": 4, "resolution": 256, "in_channels": 3, "out_ch": 3, "ch": 128,
                    "ch_mult": [1, 2, 4, 4], "num_res_blocks": 2, "attn_resolutions": [], "dropout": 0.0}
        shapes = {k: v.shape for k, v in AutoencoderKL(ddconfig=ddconfig, embed_dim=4).state_dict().items()}
        g = torch.Generator().manual_seed(0)
        sd = {k: (torch.randn(shape, generator=g) * 0.02 if len(shape) > 1 else
                  torch.ones(shape) if "norm" in k and k.endswith("weight") else torch.zeros(shape))
              for k, shape in shapes.items()}
        return (comfy.sd.VAE(sd=sd),)


NODE_CLASS_MAPPINGS = {"ProbeRandomVAE": ProbeRandomVAE, "ProbeImageStats": ProbeImageStats, "ProbeAnalyticModel": ProbeAnalyticModel, "ProbeConditioning": ProbeConditioning,
                       "ProbeLatentStats": ProbeLatentStats}
