"""Image Noise Removal service: salt-and-pepper denoising over ONNX models."""
