"""Analytic denoisers against their defining formulas."""
import torch

from noisekit.models.analytic import FiniteDatasetDenoiser, GaussianDenoiser
from noisekit.samplers.denoiser import Denoiser, noise_form


def test_gaussian_denoiser_is_the_posterior_mean():
    for form in ("ve", "flow"):
        model = GaussianDenoiser(0.3, 0.5, noise_form=form)
        assert isinstance(model, Denoiser) and noise_form(model) == form
        sigma = torch.tensor([0.4], dtype=torch.float64)
        a = 0.6 if form == "flow" else 1.0
        # joint Gaussian (x0, x): E[x0 | x] = m + a v / (a^2 v + s^2) (x - a m)
        x = torch.tensor([[1.1]], dtype=torch.float64)
        expect = 0.3 + a * 0.25 / (a * a * 0.25 + 0.16) * (1.1 - a * 0.3)
        torch.testing.assert_close(model(x, sigma), torch.tensor([[expect]], dtype=torch.float64))


def test_ode_solution_follows_the_probability_flow():
    for form in ("ve", "flow"):
        model = GaussianDenoiser(torch.tensor([0.3, -0.2]), torch.tensor([0.5, 1.2]), noise_form=form)
        x = torch.tensor([[0.9, -1.4]], dtype=torch.float64)
        s0, s1, ds = 0.8, 0.3, 1e-6
        # the closed form satisfies dx/dsigma = (x - D) / sigma
        xa, xb = model.ode_solution(x, s0, s1 + ds), model.ode_solution(x, s0, s1 - ds)
        xm = model.ode_solution(x, s0, s1)
        d = (xm - model(xm, torch.tensor([s1], dtype=torch.float64))) / s1
        torch.testing.assert_close((xa - xb) / (2 * ds), d, rtol=1e-6, atol=1e-8)
        mean, std = model.marginal(s1, x)
        torch.testing.assert_close(model.ode_solution(mean + std, s1, 0.0), model.mean.double() + model.std.double())


def test_finite_dataset_denoiser_weights_points_by_likelihood():
    points = torch.tensor([[0.0, 0.0], [2.0, 0.0]], dtype=torch.float64)
    for form, a in (("ve", 1.0), ("flow", 0.5)):
        model = FiniteDatasetDenoiser(points, noise_form=form)
        x, sigma = torch.tensor([[1.2, 0.3]], dtype=torch.float64), 0.5
        d2 = ((x - a * points) ** 2).sum(-1)
        w = torch.softmax(-d2 / (2 * sigma**2), 0)
        torch.testing.assert_close(model(x, torch.tensor([sigma], dtype=torch.float64)), (w @ points)[None])
