"""Dead leaves: synthetic clean images of any size, for training beyond 32 x 32 pixels.

The dead-leaves model stacks opaque leaves (discs) at uniform positions with radii drawn from a
power law p(r) ~ r^-alpha; at alpha = 3 the images are scale invariant, with flat regions, sharp
occluding edges and detail at every size, as natural photos have and 32 x 32 thumbnails do not
(Lee, Mumford & Huang 2001). Denoisers trained on such images alone come close to ones trained
on photos (Achddou, Gousseau & Ladjal 2021), who add texture inside the leaves and blur: here
each leaf carries a sinusoidal grating and each image a random Gaussian blur (depth of field).

    images = dead_leaves(16, 128, 128, channels=3, seed=0)   # float32 (16, 128, 128, 3) in [0, 1]
"""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class DeadLeaves:
    """How dead-leaves images are drawn.

    Args:
        alpha: float > 1, the exponent of the radius law p(r) ~ r^-alpha. Defaults to `3.0`
            (scale invariant).
        radius_min: float > 0, the smallest radius in pixels. Defaults to `1.0`.
        radius_max: float or None, the largest radius in pixels. Defaults to `None`: the
            image's larger side.
        leaves_per_pixel: float > 0, leaves drawn per pixel of the image; the few pixels they
            leave uncovered show one bottom leaf. Defaults to `0.5`.
        saturation: float >= 0, the standard deviation of a leaf's colour around its grey
            level. Defaults to `0.2`.
        texture: float >= 0, the largest amplitude of a leaf's grating. Defaults to `0.1`.
        blur_max: float >= 0, the largest standard deviation in pixels of an image's Gaussian
            blur (drawn uniformly from 0 to it). Defaults to `1.0`.

    Raises:
        ValueError: if a setting is outside its range.

    Examples:
        >>> from tfvae.data import DeadLeaves
        >>> DeadLeaves().alpha
        3.0
    """

    alpha: float = 3.0
    radius_min: float = 1.0
    radius_max: float | None = None
    leaves_per_pixel: float = 0.5
    saturation: float = 0.2
    texture: float = 0.1
    blur_max: float = 1.0

    def __post_init__(self):
        if not self.alpha > 1:
            raise ValueError(f"Expected alpha > 1 (a normalisable radius law). Received: alpha={self.alpha!r}.")
        if not self.radius_min > 0 or (self.radius_max is not None and self.radius_max < self.radius_min):
            raise ValueError(
                "Expected 0 < radius_min <= radius_max. "
                f"Received: radius_min={self.radius_min!r}, radius_max={self.radius_max!r}."
            )
        if not self.leaves_per_pixel > 0:
            raise ValueError(f"Expected leaves_per_pixel > 0. Received: leaves_per_pixel={self.leaves_per_pixel!r}.")
        for name in ("saturation", "texture", "blur_max"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"Expected {name} >= 0. Received: {name}={getattr(self, name)!r}.")


def dead_leaves(
    count: int, height: int, width: int, channels: int = 3, seed: int | tuple = 0, options: DeadLeaves = DeadLeaves()
) -> np.ndarray:
    """Draws `count` dead-leaves images, a pure function of `seed`.

    Args:
        count: int >= 1, how many images.
        height: int >= 1, their height in pixels.
        width: int >= 1, their width in pixels.
        channels: int, 1 (grey leaves) or 3 (colour). Defaults to `3`.
        seed: int or tuple of ints, fixes every image (`numpy.random.default_rng` entropy).
            Defaults to `0`.
        options: `DeadLeaves`, how the images are drawn. Defaults to `DeadLeaves()`.

    Returns:
        float32 NumPy array of shape `(count, height, width, channels)`, values in [0, 1].

    Raises:
        ValueError: if a size is not a positive integer or `channels` is not 1 or 3.

    Examples:
        >>> from tfvae.data import dead_leaves
        >>> images = dead_leaves(2, 48, 64, channels=3, seed=0)
        >>> images.shape, images.dtype
        ((2, 48, 64, 3), dtype('float32'))
        >>> bool((dead_leaves(2, 48, 64, seed=0) == images).all())
        True
    """
    for name, value in (("count", count), ("height", height), ("width", width)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"Expected {name} to be a positive integer. Received: {name}={value!r}.")
    if channels not in (1, 3):
        raise ValueError(f"Expected channels to be 1 or 3. Received: channels={channels!r}.")
    rng = np.random.default_rng(seed)
    return np.stack([_one_image(rng, height, width, channels, options) for _ in range(count)]).astype(np.float32)


def _radii(rng, count, options, largest):
    """`count` radii from p(r) ~ r^-alpha on [radius_min, radius_max], by inverting its CDF."""
    low, high = options.radius_min, options.radius_max or largest
    exponent = 1 - options.alpha
    uniform = rng.uniform(size=count)
    return (low**exponent + uniform * (high**exponent - low**exponent)) ** (1 / exponent)


def _colours(rng, count, channels, saturation):
    """A grey level per leaf, uniform in [0, 1], and channels scattered around it."""
    grey = rng.uniform(size=(count, 1))
    if channels == 1:
        return grey
    return np.clip(grey + saturation * rng.standard_normal((count, channels)), 0, 1)


def _one_image(rng, height, width, channels, options):
    """Draw leaves, find the front-most one at every pixel, paint its colour and grating, blur."""
    margin = int(np.ceil(3 * options.blur_max))  # the blur wraps around: render a border, then crop it
    canvas_height, canvas_width = height + 2 * margin, width + 2 * margin
    count = max(1, int(options.leaves_per_pixel * canvas_height * canvas_width))
    radii = _radii(rng, count, options, max(height, width))
    centres_y = rng.uniform(-radii, canvas_height + radii)  # leaves that reach into the canvas
    centres_x = rng.uniform(-radii, canvas_width + radii)
    front = _front_leaf(centres_y, centres_x, radii, canvas_height, canvas_width)  # index `count`: none
    colours = _colours(rng, count + 1, channels, options.saturation)
    amplitudes = np.append(rng.uniform(0, options.texture, count), 0.0)
    frequencies = rng.uniform(0.02, 0.5, count + 1)  # cycles per pixel
    angles, phases = rng.uniform(0, 2 * np.pi, (2, count + 1))
    y, x = np.mgrid[:canvas_height, :canvas_width]
    along = x * np.cos(angles[front]) + y * np.sin(angles[front])
    grating = amplitudes[front] * np.sin(2 * np.pi * frequencies[front] * along + phases[front])
    image = np.clip(colours[front] + grating[..., None], 0, 1)
    blurred = _gaussian_blur(image, rng.uniform(0, options.blur_max))
    return blurred[margin : margin + height, margin : margin + width]


def _front_leaf(centres_y, centres_x, radii, height, width):
    """(height, width) int array: the lowest index of the leaves covering each pixel (leaf 0 is in
    front), or len(radii) where none does. Leaves of one bounding-box size are rasterised together."""
    front = np.full(height * width, len(radii))
    half_sizes = np.ceil(radii).astype(int)
    for half in np.unique(half_sizes):
        leaves = np.flatnonzero(half_sizes == half)
        offset_y, offset_x = (grid.ravel() for grid in np.mgrid[-half : half + 1, -half : half + 1])
        pixel_y = np.round(centres_y[leaves])[:, None].astype(int) + offset_y
        pixel_x = np.round(centres_x[leaves])[:, None].astype(int) + offset_x
        inside = (pixel_y - centres_y[leaves, None]) ** 2 + (pixel_x - centres_x[leaves, None]) ** 2 <= radii[
            leaves, None
        ] ** 2
        inside &= (pixel_y >= 0) & (pixel_y < height) & (pixel_x >= 0) & (pixel_x < width)
        owners = np.broadcast_to(leaves[:, None], inside.shape)
        np.minimum.at(front, (pixel_y * width + pixel_x)[inside], owners[inside])
    return front.reshape(height, width)


def _gaussian_blur(image, width):
    """Blur (H, W, C) with a Gaussian of standard deviation `width` pixels, in the Fourier domain."""
    if width == 0:
        return image
    frequency_y = np.fft.fftfreq(image.shape[0])[:, None]
    frequency_x = np.fft.rfftfreq(image.shape[1])[None, :]
    transfer = np.exp(-2 * (np.pi * width) ** 2 * (frequency_y**2 + frequency_x**2))
    spectrum = np.fft.rfft2(image, axes=(0, 1)) * transfer[..., None]
    return np.clip(np.fft.irfft2(spectrum, s=image.shape[:2], axes=(0, 1)), 0, 1)
