"""What `compile()` means for a tfvae model when the caller leaves a setting to the model."""

import keras

from tfvae.evaluation.metrics import PSNR


class TrainingDefaults:
    """Mixin for a keras.Model: `compile()` settings left at "auto" take the model's own.

    optimizer: Adam(1e-3). loss: `default_loss` (None: the model's train_step computes its own).
    metrics: PSNR when the loss is Keras'. jit_compile: `uses_xla()`, because XLA pays off for
    dense networks on CPU and slows convolutions (see the README's speed table).
    """

    default_loss = None

    def uses_xla(self):
        return False

    def compile(self, optimizer="auto", loss="auto", metrics="auto", jit_compile="auto", **kwargs):
        loss = self.default_loss if loss == "auto" else loss
        super().compile(
            optimizer=keras.optimizers.Adam(1e-3) if optimizer == "auto" else optimizer,
            loss=loss,
            metrics=([PSNR()] if loss else None) if metrics == "auto" else metrics,
            jit_compile=self.uses_xla() if jit_compile == "auto" else jit_compile,
            **kwargs,
        )

    def get_compile_config(self):
        # Keras restores a loaded model's compile state only when a custom compile() comes with
        # get_compile_config and compile_from_config; the config holds the resolved settings.
        return super().get_compile_config()

    def compile_from_config(self, config):
        """What Keras' own does, which refuses models with a custom compile()."""
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)
