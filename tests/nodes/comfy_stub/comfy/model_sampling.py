"""Noise scaling of ComfyUI's model types in k-diffusion form.

EPS (also V_PREDICTION, EDM): x = x0 + sigma eps; from an empty latent at the model's top
sigma ("max_denoise") the unit noise is scaled by sqrt(1 + sigma^2) instead of sigma.
CONST (rectified flow): x = (1 - sigma) x0 + sigma eps; the result is divided by 1 - sigma_last.
"""
import torch


class EPS:
    sigma_min, sigma_max = 0.0292, 14.6146

    def noise_scaling(self, sigma, noise, latent_image, max_denoise=False):
        scale = torch.sqrt(1.0 + sigma**2) if max_denoise else sigma
        return noise * scale + latent_image

    def inverse_noise_scaling(self, sigma, latent):
        return latent


class V_PREDICTION(EPS):
    pass


class CONST:
    sigma_min, sigma_max = 0.001, 1.0

    def noise_scaling(self, sigma, noise, latent_image, max_denoise=False):
        return sigma * noise + (1.0 - sigma) * latent_image

    def inverse_noise_scaling(self, sigma, latent):
        return latent / (1.0 - sigma)


class ModelSamplingDiscrete:
    """The schedule half of ComfyUI's mix-in pair (its tables are not needed here)."""


class ModelSamplingDiscreteFlow:
    pass


def model_sampling(kind: str):
    """An instance of the dynamic ``class ModelSampling(<schedule>, <type>)`` ComfyUI builds per model."""
    schedule, mixin = {"eps": (ModelSamplingDiscrete, EPS), "v": (ModelSamplingDiscrete, V_PREDICTION),
                       "flow": (ModelSamplingDiscreteFlow, CONST)}[kind]
    return type("ModelSampling", (schedule, mixin), {})()
