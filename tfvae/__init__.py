"""tfvae: denoising images with PCA, autoencoders and variational autoencoders in Keras 3.

    import tfvae
    images = tfvae.data.load("mnist", "train").images                 # float32 NHWC in [0, 1]
    run_dir = tfvae.training.train(tfvae.training.TrainConfig(dataset="mnist", out="runs/mnist"))
    model = keras.saving.load_model(run_dir / "model.keras")           # import tfvae registers the classes

The package by role: `data` (sources, noise, pipeline), `models` (PCA, Autoencoder, VAE, DnCNN,
architectures), `training` (config, the one fit path, run folders, tuning), `evaluation`
(metrics, baselines, density, `tfvae evaluate`), `serving` (SavedModel export, the endpoint
client, own-image denoising), `io` (the atomic file replace); `cli` is the `tfvae` command.
A module imports only its own layer and those below it, io < data < models < serving <
evaluation < training < cli (tests/test_layers.py). The benchmarks and their presets are scripts
beside the package, in benchmarks/.
"""

__version__ = "0.2.0"

from tfvae import data, evaluation, models, serving, training  # noqa: E402  (models registers the Keras classes)

__all__ = ["__version__", "data", "evaluation", "models", "serving", "training"]
