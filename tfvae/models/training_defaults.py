"""What `compile()` means for a tfvae model when the caller leaves a setting to the model."""

import keras

from tfvae.models.metrics import PSNR


class TrainingDefaults:
    """Mixin for a keras.Model: `compile()` settings left at "auto" take the model's own.

    optimizer: Adam(1e-3). loss: `default_loss` (None: the model's train_step computes its own).
    metrics: PSNR when the loss is Keras'. jit_compile: `uses_xla()`, because XLA fuses the many
    small steps of dense networks on CPU but slows convolutions.
    """

    default_loss = None

    def uses_xla(self) -> bool:
        """Whether `compile(jit_compile="auto")` compiles the model with XLA.

        Returns:
            False: XLA slows the convolutions these models are made of.

        Examples:
            >>> from tfvae.models import DnCNN
            >>> DnCNN((8, 8, 1), conv_layers=2, width=4).uses_xla()
            False
        """
        return False

    def compile(
        self,
        optimizer: str | keras.optimizers.Optimizer = "auto",
        loss: str | None = "auto",
        metrics: str | list | None = "auto",
        jit_compile: str | bool = "auto",
        **kwargs,
    ) -> None:
        """Configures the model for training; each setting left at `"auto"` is the model's own.

        Other keyword arguments, e.g. `steps_per_execution`, go to `keras.Model.compile`.

        Args:
            optimizer: str or `keras.optimizers.Optimizer`, the optimizer. Defaults to `"auto"`:
                `keras.optimizers.Adam(1e-3)`.
            loss: str, loss or None, the loss. Defaults to `"auto"`: the model's `default_loss`,
                `"mse"` for `Autoencoder` and `DnCNN`, None for the VAEs and `Noise2Void`
                (their `train_step` computes their own objective).
            metrics: list or None, the metrics. Defaults to `"auto"`: `[PSNR()]` with a Keras
                loss, else None (the model's `train_step` reports its own, PSNR included).
            jit_compile: bool or `"auto"`, whether to compile with XLA. Defaults to `"auto"`:
                `uses_xla()`.

        Examples:
            >>> from tfvae.models import Autoencoder
            >>> model = Autoencoder((8, 8, 1), width=4, latent_dim=2)
            >>> model.compile()
            >>> type(model.optimizer).__name__, model.loss
            ('Adam', 'mse')
        """
        loss = self.default_loss if loss == "auto" else loss
        super().compile(
            optimizer=keras.optimizers.Adam(1e-3) if optimizer == "auto" else optimizer,
            loss=loss,
            metrics=([PSNR()] if loss else None) if metrics == "auto" else metrics,
            jit_compile=self.uses_xla() if jit_compile == "auto" else jit_compile,
            **kwargs,
        )

    def get_compile_config(self):
        """The resolved `compile()` settings, saved with the model."""
        # Keras restores a loaded model's compile state only when a custom compile() comes with
        # get_compile_config and compile_from_config; the config holds the resolved settings.
        return super().get_compile_config()

    def compile_from_config(self, config):
        """Compiles a loaded model as it was saved (what Keras' own does, which refuses a custom compile())."""
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)
