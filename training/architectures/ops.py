"""Backend-neutral building blocks for the architectures' weight-free layers (keras.ops only), so the same
model trains under TensorFlow, JAX or PyTorch; and `phase_dilated_conv2d`, a dilated Conv2D that JAX runs
without dilation (for the GPU).

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


def phase_dilated_conv2d(filters: int, kernel_size: int, **kwargs) -> keras.layers.Conv2D:
    """A "same" Conv2D dilated by n that runs under JAX as one plain convolution of the n x n phases of
    its input (the rows and columns i = n p + r, stacked in the batch), interleaved back: the same sums,
    with no dilation left for XLA to handle.

    Why: on the first GPU trip (stop 33, an H200) the blind model's forward and backward took 85.8 ms
    against 4.1 for jpeg-unet, its forward 4.1 against 1.3 (`scripts/device_step_profile.py`; docs/gpu.md),
    and its detector's block dilated by 2 is the one kind of convolution jpeg-unet does not have. XLA on
    the GPU pads dilated convolutions out instead of calling cuDNN's dilated kernels (openxla/xla#32231
    measured 15-23 times slower at dilation 2), and the filter's gradient of a dilated convolution is
    itself one. Not yet timed on a GPU: `device_step_profile.py --convs` times the two kinds apart.

    The layer is a plain `keras.layers.Conv2D` whose `convolution_op` is replaced on the instance, not a
    subclass: Keras files a layer's weights under its class name, numbered in order ("conv2d_7"), so a
    subclass (stop 33's `PhaseDilatedConv2D`) moved every later Conv2D's path, and the weights of every run
    saved before it (runs/s33-gpu-blind, the shipped blind-unet's) no longer loaded: "14 objects could not
    be loaded" (tests/test_backends.py keeps such a file loading).
    Under TensorFlow (export, CPU training) it is the dilated Conv2D as it was, so tf2onnx writes the same
    graph and `onnx_passes.fold_dilated_convs` folds it as before; a side not a multiple of n falls back too."""
    layer = keras.layers.Conv2D(filters, kernel_size, **kwargs)
    dilated = layer.convolution_op

    def convolution_op(inputs, kernel):
        n = layer.dilation_rate[0]
        _, h, w, _ = inputs.shape
        if (keras.backend.backend() != "jax" or n == 1 or layer.dilation_rate[1] != n or tuple(layer.strides) != (1, 1)
                or layer.padding != "same" or layer.data_format != "channels_last" or h is None or w is None
                or h % n or w % n):
            return dilated(inputs, kernel)
        channels = inputs.shape[-1]
        x = ops.reshape(inputs, (-1, h // n, n, w // n, n, channels))
        x = ops.reshape(ops.transpose(x, (0, 2, 4, 1, 3, 5)), (-1, h // n, w // n, channels))
        y = ops.conv(x, kernel, strides=1, padding="same", dilation_rate=1, data_format="channels_last")
        y = ops.reshape(y, (-1, n, n, h // n, w // n, layer.filters))
        return ops.reshape(ops.transpose(y, (0, 3, 1, 4, 2, 5)), (-1, h, w, layer.filters))

    layer.convolution_op = convolution_op
    return layer
