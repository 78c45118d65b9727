"""`Objective`: the settings of what a VAE minimises and how it denoises, shared by both VAEs."""

import dataclasses

from tfvae.models.likelihoods import LIKELIHOODS
from tfvae.models.noise_models import parse_noise_model


def _setting(default, help_text, fine_tunable=False):
    """A field of `Objective`; `fine_tunable`: a fine-tune may change it (it shapes the loss, not the weights)."""
    return dataclasses.field(default=default, metadata={"help": help_text, "fine_tunable": fine_tunable})


@dataclasses.dataclass(frozen=True)
class Objective:
    """The objective of a `VAE` or `HierarchicalVAE`: its likelihood, KL term, bound and denoiser.

    Every field is checked on creation. The models take these settings as keyword arguments
    (`VAE(shape, beta=0.5)`) or as one `objective=Objective(...)`.

    Args:
        likelihood: str or None, the decoder likelihood: `"bernoulli"`, `"gaussian"` (fixed
            sigma_x), `"gaussian-learned"`, `"discretized-gaussian"` (8-bit bins, learned
            sigma_x) or, with a PixelCNN decoder only, `"discretized-logistic-mixture"` (8-bit
            values, PixelCNN++'s). Defaults to `None`: the architecture's (`"bernoulli"` for `mlp`, the
            original VAE's binary cross-entropy; `"gaussian"` otherwise).
        sigma_x: float > 0, the Gaussian decoder's standard deviation (its initial value when
            learned). Defaults to `0.05`.
        beta: float >= 0, the weight of the KL term. Defaults to `1.0`.
        kl_warmup_steps: int >= 0, beta ramps up linearly from 0 over this many training steps.
            Defaults to `0`.
        free_bits: float >= 0, nats per latent dimension (batch average) below which the KL is
            not penalised. Defaults to `0.0`.
        iw_samples: int >= 1, posterior draws per image in the loss: 1 is the ELBO with the
            analytic KL; k > 1 the importance-weighted bound (IWAE, Burda et al. 2016), with
            beta 1 and no KL warm-up or free bits. Defaults to `1`.
        noise_model: str or None, train on noisy images alone: the decoder outputs the clean
            signal and the reconstruction term is -log p(noisy input | signal) under this noise
            model (`"gaussian:0.2"`, or `"gaussian:auto"` to estimate sigma per image); needs the
            gaussian likelihood. Defaults to `None`: the likelihood of the clean target.
        decoder_variance: bool, with a noise model: the decoder also predicts the variance v of
            each clean pixel, the noisy pixel is scored under N(signal, v + sigma^2), and the
            denoiser's estimate is the posterior mean of the clean pixel given the noisy one
            (`noise_models.censored_posterior`), which takes the noisy pixel back in where the
            decoder is unsure. Defaults to `False`.
        mmse_samples: int >= 0, posterior draws the denoiser averages (the MMSE estimate); 0
            decodes the posterior mean once. Defaults to `0`.
        posterior_temperature: float >= 0, scales the spread of the posterior draws of z
            (z = mean + temperature * std * eps): the knob that calibrates their uncertainty
            (`tfvae.evaluation.calibration`); 0 draws the posterior mean every time. Defaults
            to `1.0`, the posterior itself.

    Raises:
        ValueError: if a setting is out of range, `iw_samples > 1` comes with beta != 1, a KL
            warm-up or free bits, a noise model comes with a likelihood other than gaussian, or
            `decoder_variance` comes without a noise model.

    Examples:
        >>> from tfvae.models import Objective
        >>> Objective(beta=0.5).beta
        0.5
        >>> Objective(iw_samples=4, beta=0.5)
        Traceback (most recent call last):
        ...
        ValueError: Expected beta=1, kl_warmup_steps=0 and free_bits=0 with iw_samples > 1 ...
    """

    likelihood: str | None = _setting(
        None,
        "bernoulli | gaussian | gaussian-learned | discretized-gaussian (8-bit bins: bits/dim) | "
        "discretized-logistic-mixture (with --pixelcnn-layers); "
        "unset: the architecture's (mlp bernoulli, else gaussian)",
    )
    sigma_x: float = _setting(0.05, "the Gaussian decoder's standard deviation (its start when learned)", True)
    beta: float = _setting(1.0, "the weight of the KL term", True)
    kl_warmup_steps: int = _setting(0, "steps over which the KL weight ramps up linearly from 0", True)
    free_bits: float = _setting(0.0, "nats per latent dimension the KL is not penalised below", True)
    iw_samples: int = _setting(
        1, "posterior draws per image in the loss: 1 the ELBO, k > 1 the importance-weighted bound (IWAE)", True
    )
    noise_model: str | None = _setting(
        None, "--targets noisy: the images' noise, gaussian:SIGMA | gaussian:auto (estimated per image)"
    )
    decoder_variance: bool = _setting(
        False,
        "with --noise-model: the decoder also predicts each clean pixel's variance, and the estimate is the "
        "posterior mean of the clean pixel given the noisy one",
    )
    mmse_samples: int = _setting(
        0, "posterior draws the denoiser averages (the MMSE estimate); 0: the posterior mean decoded once", True
    )
    posterior_temperature: float = _setting(
        1.0, "scales the spread of the posterior draws of z (calibrates their uncertainty); 1: the posterior", True
    )

    def __post_init__(self):
        if self.likelihood is not None and self.likelihood not in LIKELIHOODS:
            raise ValueError(f"Expected likelihood in {sorted(LIKELIHOODS)}. Received: likelihood={self.likelihood!r}.")
        if not (isinstance(self.sigma_x, (int, float)) and self.sigma_x > 0):
            raise ValueError(f"Expected sigma_x to be a number > 0. Received: sigma_x={self.sigma_x!r}.")
        for name in ("beta", "kl_warmup_steps", "free_bits", "posterior_temperature"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value >= 0):
                raise ValueError(f"Expected {name} to be a number >= 0. Received: {name}={value!r}.")
        for name, minimum in (("iw_samples", 1), ("mmse_samples", 0)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                raise ValueError(f"Expected {name} to be an integer >= {minimum}. Received: {name}={value!r}.")
        if self.iw_samples > 1 and (self.beta != 1 or self.kl_warmup_steps or self.free_bits):
            raise ValueError(
                "Expected beta=1, kl_warmup_steps=0 and free_bits=0 with iw_samples > 1 (the importance-weighted "
                f"bound has no separate KL term). Received: beta={self.beta!r}, "
                f"kl_warmup_steps={self.kl_warmup_steps!r}, free_bits={self.free_bits!r}."
            )
        if self.noise_model is not None:
            if self.likelihood not in (None, "gaussian"):
                raise ValueError(
                    "Expected the gaussian likelihood with a noise model (the decoder outputs the signal itself). "
                    f"Received: likelihood={self.likelihood!r}, noise_model={self.noise_model!r}."
                )
            object.__setattr__(self, "noise_model", parse_noise_model(self.noise_model).spec)  # the canonical spec
        if not isinstance(self.decoder_variance, bool):
            raise ValueError(
                f"Expected decoder_variance to be True or False. Received: decoder_variance={self.decoder_variance!r}."
            )
        if self.decoder_variance and self.noise_model is None:
            raise ValueError(
                "Expected a noise model with decoder_variance=True (the variance is the clean signal's, "
                "next to the noise's). Received: noise_model=None."
            )

    @property
    def decoder_outputs(self) -> int:
        """Values the decoder outputs per pixel and channel: the mean, and the variance with `decoder_variance`.

        Examples:
            >>> from tfvae.models import Objective
            >>> Objective().decoder_outputs
            1
            >>> Objective(noise_model="gaussian:0.1", decoder_variance=True).decoder_outputs
            2
        """
        return 2 if self.decoder_variance else 1

    @classmethod
    def take(cls, objective: "Objective | None", settings: dict) -> tuple:
        """Splits a model's keyword arguments into its `Objective` and the rest.

        Args:
            objective: `Objective` or None, the settings given as one object.
            settings: dict, keyword arguments, some of which may be the objective's fields.

        Returns:
            `(objective, the other keyword arguments)`.

        Raises:
            ValueError: if the objective is given both ways.

        Examples:
            >>> from tfvae.models import Objective
            >>> objective, rest = Objective.take(None, {"beta": 0.5, "width": 4})
            >>> objective.beta, rest
            (0.5, {'width': 4})
        """
        names = {field.name for field in dataclasses.fields(cls)}
        given = {name: value for name, value in settings.items() if name in names}
        rest = {name: value for name, value in settings.items() if name not in names}
        if objective is None:
            return cls(**given), rest
        if given:
            raise ValueError(
                f"Expected the objective's settings either as objective= or as keyword arguments. "
                f"Received both: objective={objective!r} and {given}."
            )
        return objective, rest

    def resolved(self, likelihood: str) -> "Objective":
        """This objective with `likelihood` filled in where it is None.

        Args:
            likelihood: str, the likelihood to use when none is set (the architecture's).

        Returns:
            An `Objective` whose likelihood is not None.

        Raises:
            ValueError: if the filled-in likelihood conflicts with the noise model.

        Examples:
            >>> from tfvae.models import Objective
            >>> Objective().resolved("bernoulli").likelihood
            'bernoulli'
            >>> Objective(likelihood="gaussian").resolved("bernoulli").likelihood
            'gaussian'
        """
        return self if self.likelihood else dataclasses.replace(self, likelihood=likelihood)


INFERENCE_SETTINGS = ("mmse_samples", "posterior_temperature")  # how a trained model denoises, not how it trains
FINE_TUNABLE_SETTINGS = tuple(field.name for field in dataclasses.fields(Objective) if field.metadata["fine_tunable"])
