"""Under pytest (nbmake) the tutorials run in fast mode: their `parameters` cells read these."""

import os

FAST_MODE = {
    "TFVAE_TRAIN_IMAGES": "1024",
    "TFVAE_EVAL_IMAGES": "200",
    "TFVAE_EPOCHS": "1",
    "TFVAE_TRIALS": "2",
    "TFVAE_SAMPLES": "4",
}
for name, value in FAST_MODE.items():
    os.environ.setdefault(name, value)
