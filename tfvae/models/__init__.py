"""The models of the PCA -> autoencoder -> VAE -> hierarchical VAE path (and the DnCNN,
Noise2Void and Neighbor2Neighbor baselines), all keras.Models that train themselves and serialize to .keras.

    vae = VAE((28, 28, 1), arch="conv-spatial", latent_dim=8)   # unset: the architecture's defaults
    vae.compile()                                              # the model's own training defaults
    vae.fit(make_dataset(...), steps_per_epoch=100)
"""

from tfvae.models.architectures import ARCHITECTURES
from tfvae.models.autoencoder import Autoencoder
from tfvae.models.blind_spot import Noise2Void
from tfvae.models.dncnn import DnCNN
from tfvae.models.hierarchical import HierarchicalVAE
from tfvae.models.neighbor2neighbor import Neighbor2Neighbor
from tfvae.models.objective import Objective
from tfvae.models.pca import PCA, fit_pca
from tfvae.models.sampling import Sampling
from tfvae.models.saving import load_model, with_config, with_network_dtype
from tfvae.models.vae import VAE

__all__ = [
    "ARCHITECTURES",
    "PCA",
    "Autoencoder",
    "DnCNN",
    "HierarchicalVAE",
    "Neighbor2Neighbor",
    "Noise2Void",
    "Objective",
    "Sampling",
    "VAE",
    "fit_pca",
    "load_model",
    "with_config",
    "with_network_dtype",
]
