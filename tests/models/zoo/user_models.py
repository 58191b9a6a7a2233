"""Subclasses a user writes to use DeepChem's abstract GAN bases (Keras ``GAN``/``WGAN``, torch ``GANModel``).

Registered with :func:`dchub_client.register_class`, as a user of dchub must. Data: one real property
(log solubility) generated conditionally on another (TPSA), so the GANs train on real molecules.
"""
from __future__ import annotations

import deepchem as dc
import torch

import dchub_client

#: The batch size of the torch GAN: DeepChem's torch GANs declare their input shapes with it.
BATCH = 8


def _keras_generator() -> object:
    import tensorflow as tf

    noise = tf.keras.Input((2,))
    condition = tf.keras.Input((1,))
    hidden = tf.keras.layers.Concatenate(axis=1)([noise, condition])
    return tf.keras.Model(inputs=[noise, condition], outputs=tf.keras.layers.Dense(1)(hidden))


def _keras_discriminator(final_activation: str | None) -> object:
    import tensorflow as tf

    data = tf.keras.Input((1,))
    condition = tf.keras.Input((1,))
    hidden = tf.keras.layers.Concatenate(axis=1)([data, condition])
    hidden = tf.keras.layers.Dense(8, activation="relu")(hidden)
    return tf.keras.Model(inputs=[data, condition], outputs=tf.keras.layers.Dense(1, activation=final_activation)(hidden))


@dchub_client.register_class
class ConditionalGAN(dc.models.GAN):
    """A Keras GAN generating one property from noise and a condition."""

    def get_noise_input_shape(self) -> tuple[int, ...]:
        return (2,)

    def get_data_input_shapes(self) -> list[tuple[int, ...]]:
        return [(1,)]

    def get_conditional_input_shapes(self) -> list[tuple[int, ...]]:
        return [(1,)]

    def create_generator(self) -> object:
        return _keras_generator()

    def create_discriminator(self) -> object:
        return _keras_discriminator("sigmoid")


@dchub_client.register_class
class ConditionalWGAN(dc.models.WGAN):
    """The same as a Wasserstein GAN (linear critic output, gradient penalty)."""

    def get_noise_input_shape(self) -> tuple[int, ...]:
        return (2,)

    def get_data_input_shapes(self) -> list[tuple[int, ...]]:
        return [(1,)]

    def get_conditional_input_shapes(self) -> list[tuple[int, ...]]:
        return [(1,)]

    def create_generator(self) -> object:
        return _keras_generator()

    def create_discriminator(self) -> object:
        return _keras_discriminator(None)


@dchub_client.register_class
class TorchGenerator(torch.nn.Module):
    def __init__(self, noise_dim: int, condition_dim: int) -> None:
        super().__init__()
        self.output = torch.nn.Linear(noise_dim + condition_dim, 1)

    def forward(self, inputs: list) -> torch.Tensor:
        return self.output(torch.cat(list(inputs), dim=1))


@dchub_client.register_class
class TorchDiscriminator(torch.nn.Module):
    def __init__(self, data_dim: int, condition_dim: int) -> None:
        super().__init__()
        self.dense1 = torch.nn.Linear(data_dim + condition_dim, 8)
        self.dense2 = torch.nn.Linear(8, 1)

    def forward(self, inputs: list) -> torch.Tensor:
        hidden = torch.relu(self.dense1(torch.cat(list(inputs), dim=1)))
        return torch.sigmoid(self.dense2(hidden))


@dchub_client.register_class
class TorchConditionalGAN(dc.models.torch_models.GANModel):
    """The torch version: DeepChem's ``GANModel`` asks subclasses for shapes (with the batch dimension) and
    networks."""

    def get_noise_input_shape(self) -> tuple[int, ...]:
        return (BATCH, 2)

    def get_data_input_shapes(self) -> list[tuple[int, ...]]:
        return [(BATCH, 1)]

    def get_conditional_input_shapes(self) -> list[tuple[int, ...]]:
        return [(BATCH, 1)]

    def create_generator(self) -> torch.nn.Module:
        return TorchGenerator(2, 1)

    def create_discriminator(self) -> torch.nn.Module:
        return TorchDiscriminator(1, 1)
