"""The zoo table: for every concrete DeepChem model class, how to build, train and query it here, or why it
cannot run here.

:data:`CASES` maps a class's qualified name to a :class:`Case` (a tiny model, real ESOL molecules);
:data:`NOT_HERE` maps the others to a :class:`NotHere` reason that the test checks is still true (the
package is really missing, the base really is abstract). A DeepChem class found by
:mod:`tests.models.zoo.census` that is in neither table fails the census test.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tests.models.zoo import data

MISSING_PACKAGE = "missing package"
ABSTRACT = "abstract base"


@dataclass(frozen=True)
class Case:
    """How to exercise one class.

    ``inputs(ctx)`` returns the training dataset (or, for GANs, the list of batch dicts); ``fit(model,
    inputs, epochs)`` trains; ``outputs(model, inputs)`` returns named arrays compared after loading.
    ``stochastic``: continued training draws fresh random numbers (GAN noise, dropout), so after one more
    epoch only the training itself is checked, not equal predictions. ``deepchem_error``: a regex of the
    error DeepChem itself raises here (its code under numpy 2 / TF 2.21 / xgboost 3): the class is then
    reported with that error instead of round-tripped.
    """

    build: Callable[["Context"], Any]
    inputs: Callable[["Context"], Any]
    fit: Callable[[Any, Any, int], Any] | None = None
    outputs: Callable[[Any, Any], dict[str, np.ndarray]] | None = None
    stochastic: bool = False
    deepchem_error: str | None = None


@dataclass(frozen=True)
class NotHere:
    """Why a class cannot be round-tripped here. ``package``: the missing top-level module; ``probe``: builds the
    model, which must fail with an ``ImportError`` naming the package; ``covered_by``: the concrete classes of
    :data:`CASES` that exercise an abstract base."""

    kind: str
    detail: str
    package: str | None = None
    covered_by: tuple[str, ...] = ()
    probe: Callable[[], Any] | None = None


class Context:
    """Molecules, character tables and a cache of featurized inputs shared by the cases of one process."""

    def __init__(self, folder: Path | None = None) -> None:
        self.smiles, self.y = data.esol()
        self.tables = data.char_tables(self.smiles)
        self.folder = folder  # numeric inputs are kept here as .npy, so another process uses the same ones
        self._cache: dict[str, Any] = {}

    def cached(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = self._load_or_make(key, make)
        return self._cache[key]

    def _load_or_make(self, key: str, make: Callable[[], Any]) -> Any:
        path = None if self.folder is None else self.folder / f"input-{key}.npy"
        if path is not None and path.exists():
            return np.load(path, allow_pickle=False)
        value = make()
        if path is not None and isinstance(value, np.ndarray) and value.dtype != object:
            np.save(path, value, allow_pickle=False)
        return value

    def numeric(self, key: str, make: Callable[[tuple[str, ...]], np.ndarray], *, classification: bool = False,
                n_tasks: int = 1) -> Any:
        X = self.cached(key, lambda: make(self.smiles))
        return data.dataset(X, data.labels(self.y, classification=classification, n_tasks=n_tasks), self.smiles)


def _dc() -> Any:
    import deepchem as dc

    return dc


# --- inputs -----------------------------------------------------------------------------------------


def ecfp(classification: bool = False, n_tasks: int = 1) -> Callable[[Context], Any]:
    return lambda ctx: ctx.numeric("ecfp", data.ecfp, classification=classification, n_tasks=n_tasks)


def featurized(key: str, make: Callable[[], Any], classification: bool = False) -> Callable[[Context], Any]:
    def inputs(ctx: Context) -> Any:
        X = ctx.cached(key, lambda: data.featurize(make(), ctx.smiles))
        return data.dataset(X, data.labels(ctx.y, classification=classification), ctx.smiles)
    return inputs


def _convmol(ctx: Context) -> Any:
    return featurized("convmol", lambda: _dc().feat.ConvMolFeaturizer())(ctx)


def _weave(ctx: Context) -> Any:
    return featurized("weave", lambda: _dc().feat.WeaveFeaturizer())(ctx)


def _molgraph(ctx: Context) -> Any:
    return featurized("molgraph", lambda: _dc().feat.MolGraphConvFeaturizer(use_edges=True))(ctx)


#: DAGModel unrolls its graph layers over ``max_atoms`` (slow to trace): it trains on the smallest molecules.
DAG_ATOMS = 10
#: Atomic numbers MolGAN may place (0 = no atom): those of the sample molecules.
MOLGAN_ATOMS = [0, 6, 7, 8, 9, 16, 17]


def _dag(ctx: Context) -> Any:
    dc = _dc()
    smiles, y = data.esol(max_atoms=DAG_ATOMS)
    X = ctx.cached("convmol-small", lambda: data.featurize(dc.feat.ConvMolFeaturizer(), smiles))
    return dc.trans.DAGTransformer(max_atoms=DAG_ATOMS).transform(data.dataset(X, data.labels(y), smiles))


def _coulomb(smiles: tuple[str, ...]) -> np.ndarray:
    return data.featurize(_dc().feat.CoulombMatrix(max_atoms=60, seed=0), smiles).astype(np.float32)


def _irv(smiles: tuple[str, ...], K: int = 5) -> np.ndarray:
    """What ``dc.trans.IRVTransformer`` computes (it fails under numpy 2: ``np.float_``): top-K Tanimoto
    similarities to the other molecules, then their labels."""
    _, y = data.esol()
    fp = data.ecfp(smiles) > 0
    inter = fp.astype(np.float64) @ fp.T.astype(np.float64)
    similarity = inter / np.maximum(fp.sum(1)[:, None] + fp.sum(1)[None, :] - inter, 1)
    np.fill_diagonal(similarity, -1.0)
    top = np.argsort(-similarity, axis=1, kind="stable")[:, :K]
    labels = data.labels(y, classification=True)[:, 0]
    return np.hstack([np.take_along_axis(similarity, top, 1), labels[top]]).astype(np.float32)


def _scscore_pairs(smiles: tuple[str, ...]) -> np.ndarray:
    fp = data.ecfp(smiles)
    return np.stack([fp, fp[::-1]], axis=1)


def _images(smiles: tuple[str, ...]) -> np.ndarray:
    return data.featurize(_dc().feat.SmilesToImage(img_size=40, img_spec="std"), smiles).astype(np.float32)


def _descriptors(smiles: tuple[str, ...]) -> np.ndarray:
    """Two real descriptors per molecule (scaled molecular weight and logP): a 2-D density to model."""
    from rdkit import Chem
    from rdkit.Chem import Crippen, Descriptors

    mols = [Chem.MolFromSmiles(s) for s in smiles]
    return np.array([[Descriptors.MolWt(m) / 100.0 - 1.5, Crippen.MolLogP(m) / 2.0] for m in mols], np.float32)


def _sequences(ctx: Context) -> Any:
    X = ctx.cached("seq", lambda: data.featurize(_dc().feat.SmilesToSeq(
        ctx.tables["char_to_idx"], max_len=50, pad_len=2), ctx.smiles))
    return data.dataset(X, data.labels(ctx.y), ctx.smiles)


def _smiles_ids(classification: bool = False) -> Callable[[Context], Any]:
    return lambda ctx: data.dataset(np.zeros((len(ctx.smiles), 1), np.float32),
                                    data.labels(ctx.y, classification=classification), ctx.smiles)


def _tpsa(smiles: tuple[str, ...]) -> np.ndarray:
    from rdkit import Chem
    from rdkit.Chem import Descriptors

    return np.array([[Descriptors.TPSA(Chem.MolFromSmiles(s)) / 100.0] for s in smiles], np.float32)


def _gan_batches(ctx: Context, model: Any) -> list[dict[Any, np.ndarray]]:
    """Batches of (log solubility, TPSA) for the conditional GANs of :mod:`.user_models`."""
    condition = ctx.cached("tpsa", lambda: _tpsa(ctx.smiles))
    return [{model.data_inputs[0]: ctx.y[i:i + 8], model.conditional_inputs[0]: condition[i:i + 8]}
            for i in range(0, len(ctx.y), 8)]


# --- fitting and querying -------------------------------------------------------------------------


def fit_dataset(model: Any, inputs: Any, epochs: int) -> Any:
    return model.fit(inputs, nb_epoch=epochs)


def fit_estimator(model: Any, inputs: Any, epochs: int) -> Any:
    """scikit-learn style models have no epochs: each ``fit`` trains on the whole dataset."""
    return model.fit(inputs)


def predict(model: Any, inputs: Any) -> dict[str, np.ndarray]:
    return {"predict": np.asarray(model.predict(inputs))}


def _fit_gan(model: Any, ctx_batches: Any, epochs: int) -> Any:
    ctx, _ = ctx_batches
    return model.fit_gan(_gan_batches(ctx, model) * epochs, checkpoint_interval=0)


def _gan_outputs(model: Any, ctx_batches: Any) -> dict[str, np.ndarray]:
    ctx, _ = ctx_batches
    noise = np.random.RandomState(7).normal(size=(len(ctx.y), 2)).astype(np.float32)
    condition = ctx.cached("tpsa", lambda: _tpsa(ctx.smiles))
    generated = model.predict_gan_generator(noise_input=noise, conditional_inputs=[condition])
    return {"generated": np.asarray(generated)}


def _gan_inputs(ctx: Context) -> Any:
    return (ctx, None)


def _molgan_inputs(ctx: Context) -> Any:
    features = ctx.cached("molgan", lambda: data.featurize(_dc().feat.MolGanFeaturizer(max_atom_count=24, atom_labels=MOLGAN_ATOMS),
                                                           ctx.smiles))
    return (ctx, features)


def _fit_molgan(model: Any, ctx_features: Any, epochs: int) -> Any:
    import torch

    _, features = ctx_features
    adjacency = np.array([f.adjacency_matrix for f in features]).astype(np.int64)
    nodes = np.array([f.node_features for f in features]).astype(np.int64)

    def batches() -> Any:
        for _ in range(epochs):
            for i in range(0, len(adjacency) - model.batch_size + 1, model.batch_size):
                a = adjacency[i:i + model.batch_size]
                n = nodes[i:i + model.batch_size]
                if hasattr(model, "device"):  # torch: one-hot tensors
                    a = torch.nn.functional.one_hot(torch.tensor(a, dtype=torch.int64), model.edges).float()
                    n = torch.nn.functional.one_hot(torch.tensor(n, dtype=torch.int64), model.nodes).float()
                else:
                    a = np.eye(model.edges, dtype=np.float32)[a]
                    n = np.eye(model.nodes, dtype=np.float32)[n]
                yield {model.data_inputs[0]: a, model.data_inputs[1]: n}

    return model.fit_gan(batches(), generator_steps=0.5, checkpoint_interval=0)


def _molgan_outputs(model: Any, _inputs: Any) -> dict[str, np.ndarray]:
    noise = np.random.RandomState(7).normal(size=(4, model.embedding_dim)).astype(np.float32)
    graphs = model.predict_gan_generator(noise_input=noise)
    return {"adjacency": np.array([g.adjacency_matrix for g in graphs]),
            "nodes": np.array([g.node_features for g in graphs])}


def _pairs(ctx: Context) -> list[tuple[str, str]]:
    return [(s, s) for s in ctx.smiles]


def _fit_sequences(model: Any, ctx: Any, epochs: int) -> Any:
    return model.fit_sequences(_pairs(ctx) * epochs, checkpoint_interval=0)


def _seq_outputs(model: Any, ctx: Any) -> dict[str, np.ndarray]:
    sequences = list(ctx.smiles[:6])
    torch = "torch_models" in type(model).__module__  # the torch SeqToSeqModel names them in the singular
    embeddings = np.asarray((model.predict_embedding if torch else model.predict_embeddings)(sequences))
    decode = model.predict_from_embedding if torch else model.predict_from_embeddings
    decoded = ["".join(s) for s in decode(embeddings)]
    return {"embeddings": embeddings, "decoded": np.array(decoded, dtype=str),
            "translated": np.array(["".join(s) for s in model.predict_from_sequences(sequences)], dtype=str)}


def _flow_outputs(model: Any, inputs: Any) -> dict[str, np.ndarray]:
    return {"log_prob": np.asarray(model.flow.log_prob(inputs.X))}


def _keras_sequential(ctx: Context) -> Any:
    import tf_keras

    dc = _dc()
    net = tf_keras.Sequential([tf_keras.layers.Dense(8, activation="relu"), tf_keras.layers.Dense(1)])
    return dc.models.KerasModel(net, dc.models.losses.L2Loss(), batch_size=8)


def _torch_sequential(ctx: Context) -> Any:
    import torch

    dc = _dc()
    net = torch.nn.Sequential(torch.nn.Linear(64, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    return dc.models.TorchModel(net, dc.models.losses.L2Loss(), batch_size=8)


def _flow(ctx: Context) -> Any:
    import deepchem.models.normalizing_flows  # noqa: F401  (not imported by deepchem.models)
    import tensorflow_probability as tfp

    dc = _dc()
    made = tfp.bijectors.AutoregressiveNetwork(params=2, hidden_units=[8])
    flow = dc.models.normalizing_flows.NormalizingFlow(
        base_distribution=tfp.distributions.MultivariateNormalDiag(loc=[0.0, 0.0]),
        flow_layers=[tfp.bijectors.MaskedAutoregressiveFlow(shift_and_log_scale_fn=made)])
    return dc.models.normalizing_flows.NormalizingFlowModel(flow, batch_size=8, learning_rate=0.001)


def _fit_transform_regressor(ctx: Context) -> Any:
    dc = _dc()
    transformer = dc.trans.CoulombFitTransformer(ctx.numeric("coulomb", _coulomb))
    return dc.models.MultitaskFitTransformRegressor(n_tasks=1, n_features=[60, 60], layer_sizes=[8],
                                                    fit_transformers=[transformer], batch_size=8, dropouts=0.0)


def _sklearn(ctx: Context) -> Any:
    from sklearn.ensemble import RandomForestRegressor

    return _dc().models.SklearnModel(RandomForestRegressor(n_estimators=4, max_depth=3, random_state=0))


def _lightgbm(ctx: Context) -> Any:
    import lightgbm

    return _dc().models.GBDTModel(lightgbm.LGBMRegressor(n_estimators=8, num_leaves=4, min_child_samples=2,
                                                         random_state=0, verbose=-1), early_stopping_rounds=5)


def _xgboost(ctx: Context) -> Any:
    import xgboost

    return _dc().models.gbdt_models.gbdt_model.XGBoostModel(
        xgboost.XGBRegressor(n_estimators=8, max_depth=2, random_state=0), early_stopping_rounds=5)


def _singletask(ctx: Context) -> Any:

    dc = _dc()
    return dc.models.SingletaskToMultitask(["solubility", "above_median"], _ridge_member)


def _ridge_member(model_dir: str) -> Any:
    from sklearn.linear_model import Ridge

    return _dc().models.SklearnModel(Ridge(alpha=1.0), model_dir=model_dir)


def _two_task_disk(ctx: Context) -> Any:
    dc = _dc()
    X = ctx.cached("ecfp", lambda: data.ecfp(ctx.smiles))
    y = np.hstack([data.labels(ctx.y), data.labels(ctx.y, classification=True)])
    return dc.data.DiskDataset.from_numpy(X, y, np.ones_like(y), ids=np.array(ctx.smiles),
                                          tasks=["solubility", "above_median"])



def _graph_conv_model(cls_name: str) -> Callable[[Context], Any]:
    return lambda ctx: getattr(_dc().models.graph_models, cls_name)(
        1, graph_conv_layers=[8, 8], dense_layer_size=8, mode="regression", batch_size=8)


def _dag_model(cls_name: str) -> Callable[[Context], Any]:
    return lambda ctx: getattr(_dc().models.graph_models, cls_name)(
        1, max_atoms=DAG_ATOMS, n_graph_feat=8, n_outputs=8, layer_sizes=[8], layer_sizes_gather=[8],
        mode="regression", batch_size=8)


def _keras_dtnn(cls_name: str) -> Callable[[Context], Any]:
    return lambda ctx: getattr(_dc().models.graph_models, cls_name)(
        1, n_embedding=8, n_hidden=8, n_distance=20, batch_size=8)


def _keras_mpnn(cls_name: str) -> Callable[[Context], Any]:
    return lambda ctx: getattr(_dc().models.graph_models, cls_name)(
        1, n_atom_feat=75, n_pair_feat=14, n_hidden=75, T=1, M=1, mode="regression", batch_size=8)


def _keras_weave(cls_name: str) -> Callable[[Context], Any]:
    return lambda ctx: getattr(_dc().models.graph_models, cls_name)(
        1, n_hidden=8, n_graph_feat=8, n_weave=1, fully_connected_layer_sizes=[8], dropouts=0.0, mode="regression",
        batch_size=8)


def _text_cnn(module: str, cls_name: str) -> Callable[[Context], Any]:
    def build(ctx: Context) -> Any:
        cls = getattr(getattr(_dc().models, module), cls_name)
        return cls(1, char_dict=ctx.tables["char_dict"], seq_length=ctx.tables["seq_length"], n_embedding=8,
                   kernel_sizes=[1, 2, 3], num_filters=[4, 4, 4], dropout=0.0, mode="regression", batch_size=8)
    return build


def _irv_model(cls_name: str) -> Callable[[Context], Any]:
    return lambda ctx: getattr(_dc().models.IRV, cls_name)(1, K=5, batch_size=8)


def _seq2seq_keras(ctx: Context) -> Any:
    tokens = ctx.tables["tokens"]
    return _dc().models.SeqToSeq(tokens, tokens, 50, encoder_layers=1, decoder_layers=1, embedding_dimension=8,
                                 batch_size=8)


def _aspuru_guzik(ctx: Context) -> Any:
    return _dc().models.seqtoseq.AspuruGuzikAutoEncoder(ctx.tables["tokens"], 50, embedding_dimension=8,
                                               filter_sizes=[4, 4], kernel_sizes=[3, 3], decoder_dimension=8,
                                               batch_size=8)


def _seq2seq_torch(ctx: Context) -> Any:
    tokens = ctx.tables["tokens"]
    return _dc().models.torch_models.SeqToSeqModel(tokens, tokens, 50, encoder_layers=1, decoder_layers=1,
                                                   embedding_dimension=8, batch_size=8)


def _keras_molgan(ctx: Context) -> Any:
    return _dc().models.BasicMolGANModel(vertices=24, edges=5, nodes=_molgan_nodes(), embedding_dim=4,
                                         batch_size=8)


def _torch_molgan(ctx: Context) -> Any:
    return _dc().models.torch_models.BasicMolGANModel(vertices=24, edges=5, nodes=_molgan_nodes(),
                                                      embedding_dim=4, batch_size=8, device="cpu")


def _molgan_nodes() -> int:
    return len(MOLGAN_ATOMS)


def _gnn_modular(ctx: Context) -> Any:
    return _dc().models.torch_models.GNNModular(gnn_type="gin", num_layer=2, emb_dim=8, num_tasks=1,
                                                task="regression", batch_size=8)


def _grover_inputs(ctx: Context) -> Any:
    dc = _dc()
    return featurized("grover", lambda: dc.feat.GroverFeaturizer(
        features_generator=dc.feat.CircularFingerprint(size=32)))(ctx)


def _grover(ctx: Context) -> Any:
    dc = _dc()
    vocab = ctx.cached("grover-vocab", lambda: _grover_vocabularies(ctx.smiles))
    return dc.models.torch_models.GroverModel(
        node_fdim=151, edge_fdim=165, hidden_size=8, atom_vocab=vocab[0], bond_vocab=vocab[1], features_dim=32,
        functional_group_size=85, task="finetuning", mode="regression", n_tasks=1, ffn_hidden_size=8, dropout=0.0,
        attn_out_size=4, num_attn_heads=2, batch_size=8)


def _grover_vocabularies(smiles: tuple[str, ...]) -> tuple[Any, Any]:
    dc = _dc()
    dataset = dc.data.NumpyDataset(np.array(smiles))
    atoms, bonds = (dc.feat.vocabulary_builders.GroverAtomVocabularyBuilder(),
                    dc.feat.vocabulary_builders.GroverBondVocabularyBuilder())
    atoms.build(dataset)
    bonds.build(dataset)
    return atoms, bonds


ACNN_ATOMS = 24


def _atomic_inputs(ctx: Context) -> Any:
    X = ctx.cached("acnn", lambda: data.atomic_complexes(ctx.smiles, ACNN_ATOMS))
    return data.dataset(X, data.labels(ctx.y), ctx.smiles)


def _atomic_conv(module: str, cls_name: str) -> Callable[[Context], Any]:
    return lambda ctx: getattr(getattr(_dc().models, module), cls_name)(
        n_tasks=1, frag1_num_atoms=ACNN_ATOMS, frag2_num_atoms=ACNN_ATOMS, complex_num_atoms=2 * ACNN_ATOMS,
        max_num_neighbors=4, batch_size=8, layer_sizes=[8], radial=[[1.5, 3.0, 4.5], [0.0, 4.0], [0.4]])


#: The deprecated ``*TensorGraph`` aliases call ``super(<Model>, self).__init__``, skipping the model's own
#: constructor, so ``KerasModel.__init__`` gets the model's arguments.
_SKIPS_OWN_INIT = r"^TypeError: KerasModel.__init__\(\) missing 1 required positional argument: 'loss'"

#: ``KerasModel.fit_generator`` calls ``float()`` on the variational loss, a 1-element array: numpy 2 refuses.
_LOSS_NOT_SCALAR = r"^TypeError: only 0-dimensional arrays can be converted to Python scalars"
#: ``GBDTModel.fit`` passes ``callbacks=`` (and ``early_stopping_rounds=``) to ``XGBModel.fit``; xgboost 3 removed them.
_XGBOOST_3 = r"^TypeError: XGBModel.fit\(\) got an unexpected keyword argument 'callbacks'"

#: The atomic-convolution models' batch generator calls ``np.reshape(..., newshape=...)``: numpy 2.4 removed it.
_NEWSHAPE = r"^TypeError: reshape\(\) got an unexpected keyword argument 'newshape'"

CASES: dict[str, Case] = {
    # --- TensorFlow / Keras -------------------------------------------------------------------------
    "deepchem.models.keras_model.KerasModel": Case(_keras_sequential, ecfp()),
    "deepchem.models.graph_models.GraphConvModel": Case(_graph_conv_model("GraphConvModel"), _convmol),
    "deepchem.models.graph_models.GraphConvTensorGraph": Case(_graph_conv_model("GraphConvTensorGraph"), _convmol),
    "deepchem.models.graph_models.DAGModel": Case(_dag_model("DAGModel"), _dag),
    "deepchem.models.graph_models.DAGTensorGraph": Case(_dag_model("DAGTensorGraph"), _dag,
                                                        deepchem_error=_SKIPS_OWN_INIT),
    "deepchem.models.graph_models.DTNNModel": Case(_keras_dtnn("DTNNModel"), lambda c: c.numeric("coulomb", _coulomb)),
    "deepchem.models.graph_models.DTNNTensorGraph": Case(_keras_dtnn("DTNNTensorGraph"),
                                                         lambda c: c.numeric("coulomb", _coulomb),
                                                         deepchem_error=_SKIPS_OWN_INIT),
    "deepchem.models.graph_models.MPNNModel": Case(_keras_mpnn("MPNNModel"), _weave),
    "deepchem.models.graph_models.MPNNTensorGraph": Case(_keras_mpnn("MPNNTensorGraph"), _weave,
                                                         deepchem_error=_SKIPS_OWN_INIT),
    "deepchem.models.graph_models.WeaveModel": Case(_keras_weave("WeaveModel"), _weave),
    "deepchem.models.graph_models.WeaveTensorGraph": Case(_keras_weave("WeaveTensorGraph"), _weave,
                                                          deepchem_error=_SKIPS_OWN_INIT),
    "deepchem.models.robust_multitask.RobustMultitaskRegressor": Case(lambda c: _dc().models.RobustMultitaskRegressor(
        1, 64, layer_sizes=[8], bypass_layer_sizes=[4], dropouts=0.0, bypass_dropouts=[0.0], batch_size=8), ecfp()),
    "deepchem.models.robust_multitask.RobustMultitaskClassifier": Case(
        lambda c: _dc().models.RobustMultitaskClassifier(1, 64, layer_sizes=[8], bypass_layer_sizes=[4], dropouts=0.0,
                                                         bypass_dropouts=[0.0], batch_size=8), ecfp(True)),
    "deepchem.models.progressive_multitask.ProgressiveMultitaskRegressor": Case(
        lambda c: _dc().models.ProgressiveMultitaskRegressor(2, 64, layer_sizes=[8], dropouts=0.0, batch_size=8),
        ecfp(n_tasks=2)),
    "deepchem.models.progressive_multitask.ProgressiveMultitaskClassifier": Case(
        lambda c: _dc().models.ProgressiveMultitaskClassifier(2, 64, layer_sizes=[8], dropouts=0.0, batch_size=8),
        ecfp(True, 2)),
    "deepchem.models.text_cnn.TextCNNModel": Case(_text_cnn("text_cnn", "TextCNNModel"), _smiles_ids()),
    "deepchem.models.text_cnn.TextCNNTensorGraph": Case(_text_cnn("text_cnn", "TextCNNTensorGraph"), _smiles_ids()),
    "deepchem.models.scscore.ScScoreModel": Case(lambda c: _dc().models.ScScoreModel(64, layer_sizes=[8], batch_size=8),
                                                 lambda c: c.numeric("scscore", _scscore_pairs)),
    "deepchem.models.IRV.MultitaskIRVClassifier": Case(_irv_model("MultitaskIRVClassifier"),
                                                       lambda c: c.numeric("irv", _irv, classification=True)),
    "deepchem.models.IRV.TensorflowMultitaskIRVClassifier": Case(
        _irv_model("TensorflowMultitaskIRVClassifier"), lambda c: c.numeric("irv", _irv, classification=True)),
    "deepchem.models.chemnet_models.ChemCeption": Case(lambda c: _dc().models.ChemCeption(
        img_spec="std", img_size=40, base_filters=4, inception_blocks={"A": 1, "B": 1, "C": 1}, n_tasks=1,
        mode="regression", batch_size=8), lambda c: c.numeric("images", _images)),
    "deepchem.models.chemnet_models.Smiles2Vec": Case(lambda c: _dc().models.Smiles2Vec(
        c.tables["char_to_idx"], n_tasks=1, max_seq_len=54, embedding_dim=8, filters=8, rnn_sizes=[8],
        rnn_types=["GRU"], mode="regression", batch_size=8), _sequences),
    "deepchem.models.seqtoseq.SeqToSeq": Case(_seq2seq_keras, lambda c: c, _fit_sequences, _seq_outputs),
    "deepchem.models.seqtoseq.AspuruGuzikAutoEncoder": Case(
        _aspuru_guzik, lambda c: c, _fit_sequences, _seq_outputs, stochastic=True,
        deepchem_error=_LOSS_NOT_SCALAR),
    "deepchem.models.molgan.BasicMolGANModel": Case(_keras_molgan, _molgan_inputs, _fit_molgan, _molgan_outputs,
                                                    stochastic=True),
    "deepchem.models.normalizing_flows.NormalizingFlowModel": Case(
        _flow, lambda c: c.numeric("descriptors", _descriptors), outputs=_flow_outputs),
    "tests.models.zoo.user_models.ConditionalGAN": Case(
        lambda c: _user_models().ConditionalGAN(batch_size=8), _gan_inputs, _fit_gan, _gan_outputs, stochastic=True),
    "tests.models.zoo.user_models.ConditionalWGAN": Case(
        lambda c: _user_models().ConditionalWGAN(batch_size=8), _gan_inputs, _fit_gan, _gan_outputs, stochastic=True),
    # --- PyTorch --------------------------------------------------------------------------------------
    "deepchem.models.atomic_conv.AtomicConvModel": Case(_atomic_conv("atomic_conv", "AtomicConvModel"), _atomic_inputs,
                                                         deepchem_error=_NEWSHAPE),
    "deepchem.models.torch_models.torch_model.TorchModel": Case(_torch_sequential, ecfp()),
    "deepchem.models.torch_models.acnn.AtomConvModel": Case(_atomic_conv("torch_models", "AtomConvModel"),
                                                            _atomic_inputs, deepchem_error=_NEWSHAPE),
    "deepchem.models.fcnet.MultitaskRegressor": Case(lambda c: _dc().models.MultitaskRegressor(
        1, 64, layer_sizes=[8], dropouts=0.0, batch_size=8), ecfp()),
    "deepchem.models.fcnet.MultitaskClassifier": Case(lambda c: _dc().models.MultitaskClassifier(
        1, 64, layer_sizes=[8], dropouts=0.0, batch_size=8), ecfp(True)),
    "deepchem.models.fcnet.MultitaskFitTransformRegressor": Case(_fit_transform_regressor,
                                                                 lambda c: c.numeric("coulomb", _coulomb)),
    "deepchem.models.torch_models.progressive_multitask.ProgressiveMultitaskModel": Case(
        lambda c: _dc().models.torch_models.ProgressiveMultitaskModel(2, 64, layer_sizes=[8], dropouts=0.0,
                                                                      mode="regression", batch_size=8),
        ecfp(n_tasks=2)),
    "deepchem.models.torch_models.cnn.CNN": Case(lambda c: _dc().models.CNN(
        1, 1, dims=1, layer_filters=[4], kernel_size=3, mode="regression", dropouts=0.0, batch_size=8),
        lambda c: c.numeric("ecfp-1d", lambda s: data.ecfp(s)[:, :, None])),
    "deepchem.models.torch_models.text_cnn.TextCNNModel": Case(_text_cnn("torch_models", "TextCNNModel"),
                                                               _smiles_ids()),
    "deepchem.models.torch_models.weavemodel_pytorch.WeaveModel": Case(
        lambda c: _dc().models.torch_models.WeaveModel(1, n_hidden=8, n_graph_feat=8,
                                                       fully_connected_layer_sizes=[8, 4], dropouts=0.0,
                                                       mode="regression", batch_size=8), _weave),
    "deepchem.models.torch_models.mat.MATModel": Case(lambda c: _dc().models.torch_models.MATModel(
        n_encoders=1, h=2, sa_hsize=8, d_input=8, d_hidden=8, d_output=8, encoder_hsize=8, gen_attn_hidden=4,
        batch_size=8), featurized("mat", lambda: _dc().feat.MATFeaturizer())),
    "deepchem.models.torch_models.dtnn.DTNNModel": Case(lambda c: _dc().models.torch_models.DTNNModel(
        1, n_embedding=8, n_hidden=8, n_distance=20, batch_size=8), lambda c: c.numeric("coulomb", _coulomb)),
    "deepchem.models.torch_models.dmpnn.DMPNNModel": Case(lambda c: _dc().models.torch_models.DMPNNModel(
        n_tasks=1, enc_hidden=8, depth=2, ffn_hidden=8, ffn_layers=2, batch_size=8),
        featurized("dmpnn", lambda: _dc().feat.DMPNNFeaturizer())),
    "deepchem.models.torch_models.megnet.MEGNetModel": Case(lambda c: _dc().models.torch_models.MEGNetModel(
        n_node_features=30, n_edge_features=11, n_global_features=2, n_blocks=1, batch_size=8),
        lambda c: data.dataset(c.cached("megnet", lambda: data.graphs_with_globals(c.smiles)), c.y, c.smiles)),
    "deepchem.models.torch_models.gnn.GNNModular": Case(_gnn_modular, featurized(
        "snap", lambda: _dc().feat.SNAPFeaturizer())),
    "deepchem.models.torch_models.infograph.InfoGraphModel": Case(
        lambda c: _dc().models.torch_models.InfoGraphModel(30, 8, num_gc_layers=2, task="regression", n_tasks=1,
                                                           batch_size=8), _molgraph),
    "deepchem.models.torch_models.infograph.InfoGraphStarModel": Case(
        lambda c: _dc().models.torch_models.InfoGraphStarModel(30, 11, 8, task="supervised", mode="regression",
                                                               num_tasks=1, num_gc_layers=2, batch_size=8), _molgraph),
    "deepchem.models.torch_models.grover.GroverModel": Case(_grover, _grover_inputs),
    "deepchem.models.torch_models.seqtoseq.SeqToSeqModel": Case(_seq2seq_torch, lambda c: c, _fit_sequences,
                                                                _seq_outputs),
    "deepchem.models.torch_models.molgan.BasicMolGANModel": Case(_torch_molgan, _molgan_inputs, _fit_molgan,
                                                                 _molgan_outputs, stochastic=True),
    "tests.models.zoo.user_models.TorchConditionalGAN": Case(
        lambda c: _user_models().TorchConditionalGAN(batch_size=_user_models().BATCH), _gan_inputs, _fit_gan, _gan_outputs,
        stochastic=True),
    # --- scikit-learn, gradient boosting, composites -----------------------------------------------------
    "deepchem.models.sklearn_models.sklearn_model.SklearnModel": Case(_sklearn, ecfp(), fit_estimator),
    "deepchem.models.gbdt_models.gbdt_model.GBDTModel": Case(_lightgbm, ecfp(), fit_estimator),
    "deepchem.models.gbdt_models.gbdt_model.XGBoostModel": Case(_xgboost, ecfp(), fit_estimator,
                                                                deepchem_error=_XGBOOST_3),
    "deepchem.models.multitask.SingletaskToMultitask": Case(_singletask, _two_task_disk, fit_estimator),
}


def _ferminet() -> Any:
    from deepchem.models.torch_models.ferminet import FerminetModel

    return FerminetModel([["H", [0.0, 0.0, 0.0]], ["H", [0.0, 0.0, 0.74]]], spin=0, ion_charge=0)


def _user_models() -> Any:
    from tests.models.zoo import user_models

    return user_models


_DGL = "DGL is not installed here (no wheel for this torch)"
NOT_HERE: dict[str, NotHere] = {
    "deepchem.models.gan.GAN": NotHere(ABSTRACT, "subclasses define the generator and discriminator",
                                       covered_by=("tests.models.zoo.user_models.ConditionalGAN",
                                                   "deepchem.models.molgan.BasicMolGANModel")),
    "deepchem.models.gan.WGAN": NotHere(ABSTRACT, "subclasses define the generator and critic",
                                        covered_by=("tests.models.zoo.user_models.ConditionalWGAN",
                                                    "deepchem.models.molgan.BasicMolGANModel")),
    "deepchem.models.torch_models.gan.GANModel": NotHere(
        ABSTRACT, "subclasses define the generator and discriminator",
        covered_by=("tests.models.zoo.user_models.TorchConditionalGAN",
                    "deepchem.models.torch_models.molgan.BasicMolGANModel")),
    "deepchem.models.torch_models.gan.WGANModel": NotHere(
        ABSTRACT, "subclasses define the generator and critic",
        covered_by=("deepchem.models.torch_models.molgan.BasicMolGANModel",)),
    "deepchem.models.torch_models.modular.ModularTorchModel": NotHere(
        ABSTRACT, "subclasses define build_components, build_model and loss_func",
        covered_by=("deepchem.models.torch_models.gnn.GNNModular", "deepchem.models.torch_models.infograph.InfoGraphModel",
                    "deepchem.models.torch_models.infograph.InfoGraphStarModel",
                    "deepchem.models.torch_models.grover.GroverModel")),
    "deepchem.models.torch_models.attentivefp.AttentiveFPModel": NotHere(
        MISSING_PACKAGE, _DGL, "dgl", probe=lambda: _dc().models.torch_models.AttentiveFPModel(n_tasks=1)),
    "deepchem.models.torch_models.cgcnn.CGCNNModel": NotHere(
        MISSING_PACKAGE, _DGL, "dgl", probe=lambda: _dc().models.torch_models.CGCNNModel()),
    "deepchem.models.torch_models.gat.GATModel": NotHere(
        MISSING_PACKAGE, _DGL, "dgl", probe=lambda: _dc().models.torch_models.GATModel(n_tasks=1)),
    "deepchem.models.torch_models.gcn.GCNModel": NotHere(
        MISSING_PACKAGE, _DGL, "dgl", probe=lambda: _dc().models.torch_models.GCNModel(n_tasks=1)),
    "deepchem.models.torch_models.mpnn.MPNNModel": NotHere(
        MISSING_PACKAGE, _DGL, "dgl", probe=lambda: _dc().models.torch_models.MPNNModel(n_tasks=1)),
    "deepchem.models.torch_models.pagtn.PagtnModel": NotHere(
        MISSING_PACKAGE, _DGL, "dgl", probe=lambda: _dc().models.torch_models.PagtnModel(n_tasks=1)),
    "deepchem.models.torch_models.gnn3d.InfoMax3DModular": NotHere(MISSING_PACKAGE, _DGL, "dgl"),
    "deepchem.models.torch_models.lcnn.LCNNModel": NotHere(
        MISSING_PACKAGE, "constructs, but its batches are DGL graphs (and its featurizer needs pymatgen)", "dgl"),
    "deepchem.models.torch_models.ferminet.FerminetModel": NotHere(MISSING_PACKAGE, "needs PySCF", "pyscf",
                                                                   probe=_ferminet),
    "deepchem.models.torch_models.hf_models.HuggingFaceModel": NotHere(MISSING_PACKAGE, "needs transformers",
                                                                       "transformers"),
    "deepchem.models.torch_models.chemberta.Chemberta": NotHere(MISSING_PACKAGE, "needs transformers", "transformers"),
    "deepchem.models.jax_models.jax_model.JaxModel": NotHere(MISSING_PACKAGE, "needs JAX and Haiku", "jax"),
    "deepchem.models.jax_models.pinns_model.PINNModel": NotHere(MISSING_PACKAGE, "needs JAX and Haiku", "jax"),
    "deepchem.models.dft.dftxc.XCModel": NotHere(MISSING_PACKAGE, "needs dqc (differentiable quantum chemistry)",
                                                 "dqc"),
}
