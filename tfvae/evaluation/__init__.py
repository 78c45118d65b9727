"""How good a denoiser is, and how good a density model.

- `metrics`: per-image PSNR / SSIM (the benchmark protocol); PSNR and its Keras metric come from
  `tfvae.models.metrics`, where the models compile with them.
- `baselines`: Gaussian blur and BM3D.
- `scoring`: one seeded noise grid, every method scored on the same noisy images.
- `density`: ELBO, importance-weighted NLL, KL per latent dimension, active units.
- `evaluate`: `tfvae evaluate`, a model against the baselines -> evaluation.json / .md / figures.
- `levels`: what each level of a hierarchical VAE encodes, as figures.
- `figures`: the matplotlib figures all of these draw.
- `provenance`: where a result comes from, written under every results page.
"""
