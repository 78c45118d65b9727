"""Training: a TrainConfig in, a run folder out.

- `config`: `TrainConfig`, every `tfvae train` flag, one field each.
- `fitting`: the one training path, config -> compiled model + streams -> fit.
- `run`: `train`, what `tfvae train` runs: the run folder (resume, results, model.keras).
- `checkpoints`: crash-safe epoch checkpoints.
- `distribute`: tf.distribute strategies and the multi-worker loop.
- `tuning`: `tfvae tune`, keras-tuner over the same path.
- `recipes`: the shipped models' recipes, stage by stage (the benchmarks' presets are in benchmarks/).
"""

from tfvae.training.config import TrainConfig
from tfvae.training.run import train

__all__ = ["TrainConfig", "train"]
