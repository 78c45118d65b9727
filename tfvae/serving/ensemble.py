"""Self-ensemble (test-time augmentation): denoise flipped / rotated copies, undo each, average.

    denoised = self_ensemble(model, noisy, "dihedral")   # the 8 flips and quarter turns

The noise is the same in every copy, but the model's errors differ between orientations, so the
average cancels part of them; it costs one forward pass per copy. Whether it pays depends on the
images: quarter turns only suit images without an up (photos, not digits).
"""

import tensorflow as tf

# name -> (quarter turns, mirrored) of every copy; (0, False) is the image itself
TRANSFORMS = {
    "none": ((0, False),),
    "flip": ((0, False), (0, True)),
    "dihedral": tuple((turns, mirrored) for turns in range(4) for mirrored in (False, True)),
}


def check_self_ensemble(name, image_shape, size_multiple=None):
    """Raise ValueError unless `name` is a known ensemble that fits a model of `image_shape` (any
    size when `size_multiple` is set: quarter turns of any image fit it)."""
    if name not in TRANSFORMS:
        raise ValueError(f"Expected self_ensemble in {sorted(TRANSFORMS)}. Received: self_ensemble={name!r}.")
    if name == "dihedral" and size_multiple is None and image_shape[0] != image_shape[1]:
        raise ValueError(
            "Expected square images for the 'dihedral' ensemble (quarter turns); use 'flip'. "
            f"Received: image_shape={tuple(image_shape)}."
        )


def default_ensemble(image_shape, size_multiple=None):
    """The largest ensemble that fits: the 8 flips and quarter turns, or the mirror for a non-square fixed size."""
    return "dihedral" if size_multiple is not None or image_shape[0] == image_shape[1] else "flip"


def _transform(images, turns, mirrored):
    images = tf.image.rot90(images, turns)
    return tf.image.flip_left_right(images) if mirrored else images


def _undo(images, turns, mirrored):
    images = tf.image.flip_left_right(images) if mirrored else images
    return tf.image.rot90(images, (4 - turns) % 4)


def self_ensemble(denoise, images, name="none"):
    """Mean of `denoise` over the copies of `images` named by `name` (see TRANSFORMS)."""
    transforms = TRANSFORMS[name]
    outputs = [_undo(denoise(_transform(images, *transform)), *transform) for transform in transforms]
    return tf.add_n(outputs) / len(outputs)
