"""Images in, (noisy, clean) batches out.

- `sources`: `load(source, split)`, clean float32 [0, 1] NHWC images from TFDS, files or both.
- `readers`: the file formats (IDX, CIFAR-10 batches, image folders).
- `images`: the image contract every public boundary checks.
- `noise`: noise families as pure, seeded TF functions, and their spec strings.
- `synthetic`: `dead_leaves`, synthetic clean images of any size (the dead-leaves model).
- `pipeline`: `make_dataset`, a tf.data of (noisy, clean) batches, a pure function of (seed, step).
- `noisy_copy`: a fixed noisy copy of a dataset, to learn without clean images.
"""

from tfvae.data.images import check_images
from tfvae.data.noise import add_noise, parse_noise
from tfvae.data.pipeline import make_dataset
from tfvae.data.sources import DEFAULT_VALIDATION_SIZE, SPLITS, DataNotFoundError, ImageSet, load
from tfvae.data.synthetic import DeadLeaves, dead_leaves

__all__ = [
    "DEFAULT_VALIDATION_SIZE",
    "SPLITS",
    "DataNotFoundError",
    "DeadLeaves",
    "ImageSet",
    "add_noise",
    "check_images",
    "dead_leaves",
    "load",
    "make_dataset",
    "parse_noise",
]
