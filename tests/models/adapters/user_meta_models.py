"""A user's MetaLearners (TensorFlow and torch) and Policy, registered with dchub, for the adapter tests.

Imported by the test process and by the fresh process that reloads the saved folders.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf
import tf_keras
from deepchem.metalearning import MetaLearner
from deepchem.rl import Environment, Policy

import dchub_client


@dchub_client.register_class
class SineLearner(MetaLearner):
    """The MAML sine-regression learner from DeepChem's documentation (TensorFlow variables)."""

    def __init__(self, hidden: int = 8, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.w1 = tf.Variable(rng.normal(size=[1, hidden]).astype(np.float32))
        self.b1 = tf.Variable(np.zeros(hidden, np.float32))
        self.w2 = tf.Variable(rng.normal(size=[hidden, 1], scale=hidden ** -0.5).astype(np.float32))
        self.b2 = tf.Variable(np.zeros(1, np.float32))
        self.rng = rng

    def compute_model(self, inputs: Any, variables: Any, training: bool) -> Any:
        x, y = inputs
        w1, b1, w2, b2 = variables
        output = tf.matmul(tf.nn.relu(tf.matmul(x, w1) + b1), w2) + b2
        return tf.reduce_mean(tf.square(output - y)), [output]

    @property
    def variables(self) -> list[Any]:
        return [self.w1, self.b1, self.w2, self.b2]

    def select_task(self) -> None:
        self.amplitude, self.phase = 5.0 * self.rng.random(), np.pi * self.rng.random()

    def get_batch(self) -> list[np.ndarray]:
        x = self.rng.uniform(-5.0, 5.0, (10, 1)).astype(np.float32)
        return [x, (self.amplitude * np.sin(x + self.phase)).astype(np.float32)]


@dchub_client.register_class
class TorchSineLearner(SineLearner):
    """The same learner with torch parameters (for ``dc.metalearning.torch_maml.MAML``)."""

    def __init__(self, hidden: int = 8, seed: int = 0) -> None:
        import torch

        rng = np.random.default_rng(seed)
        self.w1 = torch.nn.Parameter(torch.tensor(rng.normal(size=[1, hidden]), dtype=torch.float32))
        self.b1 = torch.nn.Parameter(torch.zeros(hidden))
        self.w2 = torch.nn.Parameter(torch.tensor(rng.normal(size=[hidden, 1]) * hidden ** -0.5, dtype=torch.float32))
        self.b2 = torch.nn.Parameter(torch.zeros(1))
        self.rng = rng

    def compute_model(self, inputs: Any, variables: Any, training: bool) -> Any:
        import torch

        x, y = (torch.as_tensor(np.asarray(t)) for t in inputs)
        w1, b1, w2, b2 = variables
        output = torch.relu(x @ w1 + b1) @ w2 + b2
        return torch.mean((output - y) ** 2), [output]

    def parameters(self) -> Any:
        yield from self.variables


class RollEnvironment(Environment):
    """Move a counter left or right; reward for reaching 3 in at most 10 steps."""

    def __init__(self) -> None:
        super().__init__((1,), 2)
        self.reset()

    def reset(self) -> None:
        self._state, self._terminated, self.count = np.zeros(1, np.float32), False, 0

    def step(self, action: int) -> float:
        self.count += 1
        self._state = self._state + (1 if action == 1 else -1)
        self._terminated = abs(float(self._state[0])) >= 3 or self.count >= 10
        return 1.0 if self._state[0] >= 3 else 0.0


@dchub_client.register_class
class RollPolicy(Policy):
    """An actor-critic policy for A2C: action probabilities and a value."""

    def __init__(self, hidden: int = 8) -> None:
        super().__init__(["action_prob", "value"])
        self.hidden = hidden

    def create_model(self, **kwargs: Any) -> Any:
        state = tf_keras.Input(shape=(1,))
        dense = tf_keras.layers.Dense(self.hidden, activation=tf.nn.relu)(state)
        probs = tf_keras.layers.Dense(2, activation=tf.nn.softmax)(dense)
        # squeezed: DeepChem 2.8's A2C calls float(value) on a batch of one, which NumPy 2 refuses for (1, 1)
        value = tf.squeeze(tf_keras.layers.Dense(1)(dense))
        return tf_keras.Model(inputs=state, outputs=[probs, value])
