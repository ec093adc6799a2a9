"""The source research project's convolutional autoencoder, reproduced exactly.

It is the baseline every later model is measured against: 53,363 parameters, stride 1, every layer
3x3 'same', sigmoid output, trained with binary cross-entropy and Adam defaults at batch 32.
"""

from __future__ import annotations

import keras
from keras import layers

from training.recipe import Recipe

# The source trained on density ~ U[0, 1], per-channel noise, 50/50 salt and pepper, no other augmentation.
RECIPE = Recipe(
    loss="bce",
    learning_rate=1e-3,
    clipnorm=None,
    cosine_decay=False,
    batch=32,
    patch=64,
    density_max=1.0,
    per_pixel_share=0.0,
    grey_share=0.0,
    clip_augment_share=0.0,
    salt_ratio_range=(0.5, 0.5),
    pad_multiple=1,
)


def build() -> keras.Model:
    """Conv 64 -> Conv 32,16,8,8,16 (+BN) -> ConvT 32,64 (+BN) -> ConvT 3 + sigmoid."""
    model = keras.Sequential(name="seed_autoencoder")
    model.add(keras.Input(shape=(None, None, 3), name="image"))
    model.add(layers.Conv2D(64, 3, padding="same"))
    model.add(layers.LeakyReLU(negative_slope=0.01))
    for filters in (32, 16, 8, 8, 16):
        model.add(layers.Conv2D(filters, 3, padding="same"))
        model.add(layers.BatchNormalization())
        model.add(layers.LeakyReLU(negative_slope=0.01))
    for filters in (32, 64):
        model.add(layers.Conv2DTranspose(filters, 3, padding="same"))
        model.add(layers.BatchNormalization())
        model.add(layers.LeakyReLU(negative_slope=0.01))
    model.add(layers.Conv2DTranspose(3, 3, padding="same", activation="sigmoid"))
    return model
