"""A trained model in use: exported for TF Serving, called as a client, run on a user's files.

saved_model  `tfvae export`: the SavedModel (serving_default, encode, decode), warm-up, metadata
endpoints    one client for run folders, .keras files and SavedModels (what a model can do)
ensemble     self-ensemble: average the denoised flipped / rotated copies
files        `tfvae denoise`: a user's own image files of any size
"""
