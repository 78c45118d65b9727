"""The models of the PCA -> autoencoder -> VAE path, all keras.Model and serializable to .keras."""

from tfvae.models.autoencoder import Autoencoder
from tfvae.models.dncnn import DnCNN
from tfvae.models.networks import ARCHITECTURES
from tfvae.models.pca import PCA, fit_pca
from tfvae.models.vae import VAE

__all__ = ["ARCHITECTURES", "PCA", "Autoencoder", "DnCNN", "VAE", "fit_pca"]
