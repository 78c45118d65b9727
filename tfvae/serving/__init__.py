"""A trained model in use: exported for TF Serving, called as a client, run on a user's files.

- `saved_model`: `export_model`, what `tfvae export` runs: the SavedModel (serving_default,
  encode, decode, ...), warm-up requests, metadata.
- `endpoints`: `load_endpoints`, one client for run folders, .keras files and SavedModels.
- `ensemble`: self-ensemble, the average of the denoised flipped / rotated copies.
- `inference`: whole images of any size, in one pass or in blended tiles.
- `files`: `denoise_files`, what `tfvae denoise` runs: a user's own image files of any size.
"""
