"""A user's own Keras model and a DAG featurizer, registered with dchub for the Keras round-trip tests.

Imported by the test process and by the fresh process that reloads the saved folders.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import tf_keras

import dchub_client


@dchub_client.register_class
class TwoLayerKerasNet(tf_keras.Model):
    """A tiny subclassed Keras MLP (built lazily, like DeepChem's graph models) with a BatchNormalization."""

    def __init__(self, hidden: int = 8, activation: str = "tanh") -> None:
        super().__init__()
        self.body = [tf_keras.layers.Dense(hidden, activation=activation), tf_keras.layers.BatchNormalization()]
        self.head = tf_keras.layers.Dense(1)

    def call(self, inputs: Any, training: bool = False) -> Any:
        x = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
        for layer in self.body:
            x = layer(x, training=training)
        return self.head(x)


@dchub_client.register_class
class DAGFeaturizer:
    """ConvMol features followed by DeepChem's DAGTransformer (what DAGModel expects as input)."""

    def __init__(self, max_atoms: int = 50) -> None:
        self.max_atoms = max_atoms

    def featurize(self, smiles: list[str]) -> np.ndarray:
        import deepchem as dc

        features = dc.feat.ConvMolFeaturizer().featurize(smiles)
        dataset = dc.data.NumpyDataset(features, ids=np.array(smiles))
        return dc.trans.DAGTransformer(max_atoms=self.max_atoms).transform(dataset).X
