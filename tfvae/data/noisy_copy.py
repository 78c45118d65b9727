"""A fixed noisy copy of a dataset's train files: the honest setting for learning without clean images.

One noise draw per image, made once from the seed, written as 8-bit PNGs in a flat folder in the
source's order (`<out>/train/00000.png`, ...), which `tfvae.data.load` reads like any image folder.
A model trained with `--targets noisy` on the copy sees each image's one noisy version only: fresh
noise every epoch would show it many noisy views of one clean image, a hidden form of supervision.
The validation slice of the copy (the same seed) holds the noisy versions of the clean validation
slice, image for image. The clean images stay in the process that makes the copy.
"""

import json
import shutil
from pathlib import Path

import numpy as np

from tfvae.data import sources
from tfvae.data.noise import add_noise, parse_noise

RECORD = "noisy_copy.json"


def write_noisy_copy(source, noise, out, seed=0, data_dir=None, force=False):
    """Write the noisy copy of `source`'s train files into `out` (see the module docstring); returns `out`.

    Args:
        source: anything `tfvae.data.load` reads.
        noise: the noise spec, e.g. "gaussian:0.05-0.5" (sigma drawn per image: a blind model's data).
        out: a new folder (an existing one only with `force`, and only if it holds an earlier copy).
        seed: fixes the noise.
        data_dir: a folder searched first for `source`.
        force: replace an earlier noisy copy in `out`.

    Raises:
        FileExistsError: if `out` is not empty and does not hold an earlier copy to replace.
    """
    import tensorflow as tf

    noise = parse_noise(noise)
    out = Path(out)
    record = out / RECORD
    if out.exists() and any(out.iterdir()) and not (force and record.is_file()):
        raise FileExistsError(
            f"{out} is not empty; give a new folder (or --force to replace an earlier noisy copy there)."
        )
    clean = sources.load(source, "train+validation", data_dir=data_dir, seed=seed)
    noisy = np.round(add_noise(clean.images, noise, seed=seed) * 255).astype(np.uint8)
    folder = out / "train"
    if record.is_file():
        shutil.rmtree(folder, ignore_errors=True)  # the earlier copy's images: its count may differ
    folder.mkdir(parents=True, exist_ok=True)
    digits = len(str(len(noisy) - 1))
    for index, image in enumerate(noisy):
        tf.io.write_file(str(folder / f"{index:0{digits}d}.png"), tf.io.encode_png(image))
    record.write_text(
        json.dumps({"source": clean.origin, "noise": noise.spec, "seed": seed, "images": len(noisy)}, indent=2) + "\n"
    )
    return out
