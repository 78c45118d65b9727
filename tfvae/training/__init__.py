"""Training: a TrainConfig in, a run folder out.

- `config`: `TrainConfig`, every `tfvae train` flag, one field each; its JSON nested by role.
- `fitting`: the one training path, config -> compiled model + streams -> fit.
- `run`: `train`, what `tfvae train` runs: the run folder (resume, results, model.keras).
- `checkpoints`: crash-safe epoch checkpoints.
- `distribute`: tf.distribute strategies and the multi-worker loop.
- `tuning`: `tfvae tune`, keras-tuner over the same path.
"""

from tfvae.training.config import TrainConfig
from tfvae.training.run import train

__all__ = ["TrainConfig", "train"]
