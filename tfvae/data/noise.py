"""Noise families as pure, seeded TensorFlow functions on image batches, and their spec strings.

    noise = parse_noise("gaussian:0-0.5")        # sigma ~ U[0, 0.5], drawn per image
    noisy = noise(clean, seed=tf.constant([1, 2]))  # stateless: same seed, same noise

Specs: `FAMILY`, `FAMILY:LEVEL` or `FAMILY:LOW-HIGH` (a level drawn per image), `none`, and
`mix:SPEC,SPEC,...` (each image draws one of the specs). Every output is clipped to [0, 1].
"""

import dataclasses
import re

import numpy as np
import tensorflow as tf

from tfvae.data.images import check_images


def _per_pixel_uniform(images, seed):
    """One uniform draw per pixel location, shared by its channels: shape (N, H, W, 1)."""
    shape = tf.concat([tf.shape(images)[:3], [1]], axis=0)
    return tf.random.stateless_uniform(shape, seed)


def gaussian(images, sigma, seed):
    """Additive white Gaussian noise of standard deviation `sigma`, per pixel and channel."""
    return images + sigma * tf.random.stateless_normal(tf.shape(images), seed)


def salt_pepper(images, amount, seed):
    """A fraction `amount` of pixels set to white (half of them) or black (the other half)."""
    draw = _per_pixel_uniform(images, seed)
    salted = tf.where(draw < amount / 2, 1.0, images)
    return tf.where((draw >= amount / 2) & (draw < amount), 0.0, salted)


def poisson(images, peak, seed):
    """Shot noise: photon counts ~ Poisson(peak * x), divided by `peak` (smaller peak, more noise)."""
    return tf.random.stateless_poisson(tf.shape(images), seed, lam=images * peak, dtype=images.dtype) / peak


def speckle(images, sigma, seed):
    """Multiplicative noise x * (1 + sigma * N(0, 1))."""
    return images * (1.0 + sigma * tf.random.stateless_normal(tf.shape(images), seed))


def masking(images, fraction, seed):
    """A fraction `fraction` of pixels dropped to black."""
    return tf.where(_per_pixel_uniform(images, seed) < fraction, 0.0, images)


def block(images, size, seed):
    """One black square per image, its side `size` times the image side, at a random place."""
    shape = tf.shape(images)
    height, width = tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)
    side = tf.round(size * tf.minimum(height, width))
    corner = tf.random.stateless_uniform(tf.stack([shape[0], 1, 1, 2]), seed)
    top = tf.floor(corner[..., :1] * (height - side + 1))
    left = tf.floor(corner[..., 1:] * (width - side + 1))
    rows = tf.reshape(tf.range(height), [1, -1, 1, 1])
    cols = tf.reshape(tf.range(width), [1, 1, -1, 1])
    inside = (rows >= top) & (rows < top + side) & (cols >= left) & (cols < left + side)
    return tf.where(inside, 0.0, images)


def identity(images, level, seed):
    """No noise (a plain autoencoder's input)."""
    del level, seed
    return images


@dataclasses.dataclass(frozen=True)
class Family:
    apply: object
    default: float
    minimum: float
    maximum: float
    level_name: str


FAMILIES = {
    "none": Family(identity, 0.0, 0.0, 0.0, "-"),
    "gaussian": Family(gaussian, 0.2, 0.0, np.inf, "SIGMA"),
    "salt_pepper": Family(salt_pepper, 0.1, 0.0, 1.0, "AMOUNT"),
    "poisson": Family(poisson, 30.0, 1e-3, np.inf, "PEAK"),
    "speckle": Family(speckle, 0.3, 0.0, np.inf, "SIGMA"),
    "masking": Family(masking, 0.5, 0.0, 1.0, "FRACTION"),
    "block": Family(block, 0.25, 0.0, 1.0, "SIDE"),
}
SPEC_HELP = (
    "noise specs: "
    + ", ".join(f"{name}[:{f.level_name}|LOW-HIGH]" if name != "none" else name for name, f in FAMILIES.items())
    + ", mix:SPEC,SPEC,... (e.g. gaussian:0.3, gaussian:0-0.5, mix:gaussian:0-0.5,salt_pepper:0-0.2)"
)
_LEVEL = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)(?:-(\d+(?:\.\d*)?|\.\d+))?$")


@dataclasses.dataclass(frozen=True)
class Noise:
    """One family with its level drawn per image from U[low, high]."""

    family: str
    low: float
    high: float

    @property
    def spec(self):
        if self.family == "none":
            return "none"
        return f"{self.family}:{self.low:g}" + (f"-{self.high:g}" if self.high != self.low else "")

    def __call__(self, images, seed):
        """Noisy copy of a float32 batch; `seed` is a shape-(2,) integer tensor (stateless RNG)."""
        level_seed, noise_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        level_shape = tf.stack([tf.shape(images)[0], 1, 1, 1])
        level = tf.random.stateless_uniform(level_shape, level_seed, self.low, self.high)
        noisy = FAMILIES[self.family].apply(images, level, noise_seed)
        return tf.clip_by_value(noisy, 0.0, 1.0)


@dataclasses.dataclass(frozen=True)
class Mixture:
    """Each image draws one of `components` uniformly."""

    components: tuple

    @property
    def spec(self):
        return "mix:" + ",".join(c.spec for c in self.components)

    def __call__(self, images, seed):
        seeds = tf.unstack(tf.random.experimental.stateless_split(seed, len(self.components) + 1))
        choice = tf.random.stateless_uniform(tf.shape(images)[:1], seeds[0], 0, len(self.components), dtype=tf.int32)
        candidates = tf.stack([c(images, s) for c, s in zip(self.components, seeds[1:])])
        chosen = tf.one_hot(choice, len(self.components), axis=0)[..., None, None, None]
        return tf.reduce_sum(candidates * chosen, axis=0)


def _parse_family(spec):
    name, _, level = spec.partition(":")
    if name not in FAMILIES:
        raise ValueError(f"Unknown noise family {name!r} in {spec!r}. Valid {SPEC_HELP}.")
    family = FAMILIES[name]
    if not level:
        return Noise(name, family.default, family.default)
    match = _LEVEL.match(level)
    if name == "none" or not match:
        raise ValueError(
            f"Expected the level of {spec!r} to be a non-negative number or a range LOW-HIGH. "
            f"Received: {level!r}. Valid {SPEC_HELP}."
        )
    low = float(match.group(1))
    high = float(match.group(2) or low)
    if not family.minimum <= low <= high <= family.maximum:
        raise ValueError(
            f"Expected {name} {family.level_name} in [{family.minimum:g}, {family.maximum:g}] with LOW <= HIGH. "
            f"Received: {level!r}."
        )
    return Noise(name, low, high)


def parse_noise(spec):
    """A `Noise` or `Mixture` from a spec string (or the object itself); see `SPEC_HELP`."""
    if isinstance(spec, (Noise, Mixture)):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"Expected a noise spec string. Received: {spec!r}. Valid {SPEC_HELP}.")
    spec = spec.strip().lower()
    if spec.startswith("mix:"):
        parts = [p for p in spec[len("mix:") :].split(",") if p]
        if not parts:
            raise ValueError(f"Expected at least one component in {spec!r}. Valid {SPEC_HELP}.")
        return Mixture(tuple(_parse_family(p) for p in parts))
    return _parse_family(spec)


def add_noise(images, spec, seed=0):
    """Noisy copy of `images` (float32 [0, 1] NHWC) as NumPy; the same seed gives the same noise."""
    images = check_images(images)
    return parse_noise(spec)(tf.constant(images), tf.constant([seed, 0], tf.int64)).numpy()
