"""Backend-neutral building blocks for the architectures' weight-free layers (keras.ops only), so the same
model trains under TensorFlow, JAX or PyTorch.

One exception, for the exported graph: under TensorFlow (the backend `export` always runs on, since
tf2onnx converts TensorFlow graphs) space-to-depth and depth-to-space stay TensorFlow's own ops, which
tf2onnx writes as single SpaceToDepth / DepthToSpace nodes; the generic reshape-transpose would become
shape arithmetic and 6-D transposes in every exported model. Both give the same numbers (a permutation
of values; tests/test_backends.py checks the model across backends).
"""

from __future__ import annotations

import keras
from keras import ops


def _tensorflow() -> bool:
    return keras.backend.backend() == "tensorflow"


def space_to_depth(x, block: int):
    """(B, H, W, C) -> (B, H/b, W/b, b*b*C), channel (dy * b + dx) * C + c, as tf.nn.space_to_depth."""
    if _tensorflow():
        import tensorflow as tf

        return tf.nn.space_to_depth(x, block)
    b, h, w, c = ops.shape(x)
    x = ops.reshape(x, (b, h // block, block, w // block, block, c))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return ops.reshape(x, (b, h // block, w // block, block * block * c))


def depth_to_space(x, block: int):
    """The inverse of `space_to_depth`, as tf.nn.depth_to_space."""
    if _tensorflow():
        import tensorflow as tf

        return tf.nn.depth_to_space(x, block)
    b, h, w, c = ops.shape(x)
    depth = c // (block * block)
    x = ops.reshape(x, (b, h, w, block, block, depth))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return ops.reshape(x, (b, h * block, w * block, depth))


def upsample(x, factor: int):
    """Nearest-neighbour upsampling by repetition along height and width."""
    return ops.repeat(ops.repeat(x, factor, axis=1), factor, axis=2)
