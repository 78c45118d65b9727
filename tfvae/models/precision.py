"""Which Keras dtype policy the networks compute in, and whether this hardware computes bfloat16.

On a CPU without native bfloat16 (AVX2-only, no AVX512-BF16 / AMX) oneDNN emulates it, several
times slower than float32; with it, bfloat16 layers train faster. So "auto" decides by hardware.
"""

import functools
import warnings
from pathlib import Path

import keras
import tensorflow as tf

DTYPE_POLICIES = ("auto", "float32", "mixed_bfloat16")
NATIVE_BFLOAT16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
BFLOAT16_GPU_COMPUTE_CAPABILITY = (8, 0)  # Ampere and newer


def cpu_flags(cpuinfo="/proc/cpuinfo"):
    """The CPU's feature flags (empty when the file is not there, e.g. not Linux)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return frozenset()
    line = next((line for line in text.splitlines() if line.startswith("flags")), "")
    return frozenset(line.partition(":")[2].split())


@functools.cache
def native_bfloat16():
    """True when the device that trains computes bfloat16 natively: a GPU of compute capability
    8.0 or newer when one is visible, else a CPU with one of NATIVE_BFLOAT16_CPU_FLAGS."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return tuple(details.get("compute_capability", (0, 0))) >= BFLOAT16_GPU_COMPUTE_CAPABILITY
    return bool(cpu_flags() & set(NATIVE_BFLOAT16_CPU_FLAGS))


def resolve(policy):
    """The Keras dtype policy for `policy`: "auto" is mixed_bfloat16 where the hardware computes
    bfloat16 natively, float32 elsewhere; forcing mixed_bfloat16 where it is emulated warns."""
    if policy not in DTYPE_POLICIES:
        raise ValueError(f"Expected dtype_policy in {DTYPE_POLICIES}. Received: dtype_policy={policy!r}.")
    if policy == "auto":
        return "mixed_bfloat16" if native_bfloat16() else "float32"
    if policy == "mixed_bfloat16" and not native_bfloat16():
        warnings.warn(
            "dtype_policy mixed_bfloat16 on hardware without native bfloat16: it is emulated and several times "
            "slower than float32 here; use --dtype-policy auto or float32.",
            stacklevel=2,
        )
    return policy


class PolicyLayers:
    """`keras.layers` whose layers are all created in one dtype policy (keras-hub's `dtype=`).

    The networks' builders take it as their `layers`, so `layers.Conv2D(8, 3)` is
    `keras.layers.Conv2D(8, 3, dtype=policy)`; Keras' global policy is never switched.

    Args:
        policy: str, a Keras dtype policy name, e.g. `"float32"` or `"mixed_bfloat16"`.

    Raises:
        ValueError: if `policy` is not a Keras dtype policy.

    Examples:
        >>> from tfvae.models.precision import PolicyLayers
        >>> PolicyLayers("mixed_bfloat16").Dense(4).dtype_policy.name
        'mixed_bfloat16'
    """

    def __init__(self, policy: str):
        keras.dtype_policies.get(policy)  # an unknown name fails here, with Keras' message
        self.policy = policy

    def __getattr__(self, name):
        return functools.partial(getattr(keras.layers, name), dtype=self.policy)
