"""Training, export, evaluation and benchmarking of the denoising models (needs the `train` extra)."""
