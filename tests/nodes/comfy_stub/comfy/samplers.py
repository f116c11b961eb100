"""KSAMPLER: what SamplerCustom / SamplerCustomAdvanced do with a SAMPLER.

``sample`` gets the wrapped model (KSamplerX0Inpaint -> guider -> BaseModel with
``model_sampling``), scales the unit noise onto the latent itself, calls
``sampler_function(model, x, sigmas, extra_args=, callback=, disable=, **extra_options)``
and undoes the flow scaling at the end.
"""
import torch


class Sampler:
    def max_denoise(self, model_wrap, sigmas):
        top = float(model_wrap.inner_model.inner_model.model_sampling.sigma_max)
        return abs(float(sigmas[0]) - top) < 1e-5 or float(sigmas[0]) > top


class KSAMPLER(Sampler):
    def __init__(self, sampler_function, extra_options=None, inpaint_options=None):
        self.sampler_function = sampler_function
        self.extra_options = extra_options or {}
        self.inpaint_options = inpaint_options or {}

    def sample(self, model_wrap, sigmas, extra_args, callback, noise, latent_image=None, denoise_mask=None,
               disable_pbar=False):
        sampling = model_wrap.inner_model.inner_model.model_sampling
        latent_image = torch.zeros_like(noise) if latent_image is None else latent_image
        x = sampling.noise_scaling(sigmas[0], noise, latent_image, self.max_denoise(model_wrap, sigmas))
        k_callback = None if callback is None else (lambda d: callback(d["i"], d["denoised"], d["x"], len(sigmas) - 1))
        samples = self.sampler_function(model_wrap, x, sigmas, extra_args=extra_args, callback=k_callback,
                                        disable=disable_pbar, **self.extra_options)
        return sampling.inverse_noise_scaling(sigmas[-1], samples)
