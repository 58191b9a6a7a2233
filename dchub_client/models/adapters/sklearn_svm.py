"""Consistency checks for fitted libsvm estimators (``SVC``, ``NuSVC``, ``SVR``, ``NuSVR``, ``OneClassSVM``).

At predict time sklearn hands an SVM's fitted arrays straight to libsvm's C code
(``sklearn/svm/_base.py``: ``_dense_predict``, ``_dense_decision_function``,
``_dense_predict_proba`` call ``libsvm.predict*(X, support_, support_vectors_, _n_support,
_dual_coef_, _intercept_, _probA, _probB, svm_type=LIBSVM_IMPL.index(_impl), kernel, degree, coef0,
gamma=_gamma, cache_size)``), and libsvm trusts their sizes: ``set_model`` takes the class count
from ``len(_n_support)``, copies ``n_class * (n_class - 1) / 2`` intercepts (and as many Platt
``probA``/``probB`` values), treats ``_dual_coef_`` as ``n_class - 1`` rows of ``len(support_)``
coefficients, and walks ``_n_support[i]`` support vectors per class; a precomputed kernel indexes
each test row by ``support_``. A forged file with inconsistent sizes would make it read out of
bounds, so every SVM is checked after its arrays are filled and before anything can call it.

Sparse SVMs are refused (their CSR support vectors would need checks of their own), and so are
instance attributes that replace ``_impl``/``_sparse_kernels`` (which select libsvm's model type).
``LinearSVC``/``LinearSVR`` predict with numpy (``X @ coef_.T + intercept_``), which checks shapes
itself: liblinear only runs in ``fit``, so they need no check here.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

_CLASSIFIERS = ("c_svc", "nu_svc")
_IMPLS = (*_CLASSIFIERS, "one_class", "epsilon_svr", "nu_svr")
_KERNELS = ("linear", "poly", "rbf", "sigmoid", "precomputed")
#: The arrays libsvm reads, with the dtype and number of dimensions its Cython signatures demand.
ARRAYS: dict[str, tuple[np.dtype, int]] = {
    "support_": (np.dtype(np.int32), 1), "support_vectors_": (np.dtype(np.float64), 2),
    "_n_support": (np.dtype(np.int32), 1), "_dual_coef_": (np.dtype(np.float64), 2),
    "_intercept_": (np.dtype(np.float64), 1), "_probA": (np.dtype(np.float64), 1),
    "_probB": (np.dtype(np.float64), 1),
}
#: Every attribute a fitted SVM needs before it can predict.
FITTED = (*ARRAYS, "shape_fit_", "_gamma", "_sparse", "fit_status_", "n_features_in_")
#: Class attributes that select the libsvm model type; an instance must not replace them.
_CLASS_ONLY = ("_impl", "_sparse_kernels")


@dataclass(frozen=True)
class Problem:
    """Why an SVM is unsafe: the attribute at fault and the inconsistency."""

    attr: str
    reason: str


def is_libsvm(est: Any) -> bool:
    """True for estimators whose predictions run libsvm (subclasses of sklearn's ``BaseLibSVM``)."""
    from sklearn.svm._base import BaseLibSVM

    return isinstance(est, BaseLibSVM)


def problem(est: Any) -> Problem | None:
    """The first reason libsvm estimator *est* is unsafe to predict with, or None.

    An SVM with none of its fitted attributes is unfitted (sklearn refuses to predict) and passes.
    """
    state = vars(est)
    if not any(name in state for name in FITTED):
        return None
    for check in _CHECKS:
        found = check(est)
        if found is not None:
            return found
    return None


# --- the checks, in order: each may rely on the ones before it -----------------------------------


def _overrides(est: Any) -> Problem | None:
    for name in _CLASS_ONLY:
        if name in vars(est):
            return Problem(name, f"replaces the class attribute {name!r} that selects libsvm's model type")
    if getattr(est, "_impl", None) not in _IMPLS:
        return Problem("_impl", f"unknown libsvm model type {getattr(est, '_impl', None)!r}")
    return None


def _missing(est: Any) -> Problem | None:
    missing = [name for name in FITTED if name not in vars(est)]
    if missing:
        return Problem(missing[0], f"is missing (a fitted {type(est).__name__} also needs {', '.join(missing)})")
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value: Any) -> bool:
    return _is_int(value) or isinstance(value, (float, np.floating)) and math.isfinite(value)


def _flags(est: Any) -> Problem | None:
    if not isinstance(est._sparse, (bool, np.bool_)):
        return Problem("_sparse", f"must be a bool, not {type(est._sparse).__name__}")
    if est._sparse:
        return Problem("_sparse", "sparse SVMs are not supported (their CSR support vectors are not checked)")
    if not _is_int(est.fit_status_):
        return Problem("fit_status_", f"must be an integer, not {type(est.fit_status_).__name__}")
    probability = vars(est).get("_effective_probability", False)
    if not isinstance(probability, (bool, np.bool_)):
        return Problem("_effective_probability", f"must be a bool, not {type(probability).__name__}")
    return None


def _hyperparameters(est: Any) -> Problem | None:
    if not isinstance(est.kernel, str) or est.kernel not in _KERNELS:
        return Problem("kernel", f"must be one of {', '.join(_KERNELS)}, not {est.kernel!r}")
    if not _is_int(est.degree) or not 0 <= est.degree < (1 << 31):
        return Problem("degree", f"must be a non-negative int32, not {est.degree!r}")
    if not (est.gamma in ("scale", "auto") if isinstance(est.gamma, str) else _is_real(est.gamma) and est.gamma >= 0):
        return Problem("gamma", f"must be 'scale', 'auto' or a finite non-negative number, not {est.gamma!r}")
    if not _is_real(est._gamma) or est._gamma < 0:
        return Problem("_gamma", f"must be a finite non-negative number, not {est._gamma!r}")
    if not _is_real(est.coef0):
        return Problem("coef0", f"must be a finite number, not {est.coef0!r}")
    if not _is_real(est.cache_size) or est.cache_size <= 0:
        return Problem("cache_size", f"must be a finite positive number, not {est.cache_size!r}")
    return None


def _arrays(est: Any) -> Problem | None:
    for name, (dtype, ndim) in ARRAYS.items():
        array = getattr(est, name)
        if not isinstance(array, np.ndarray):
            return Problem(name, f"must be an array, not {type(array).__name__}")
        if array.dtype != dtype or array.ndim != ndim or not array.flags.c_contiguous:
            return Problem(name, f"must be a C-contiguous {ndim}-D {dtype} array (libsvm's type), "
                                 f"not {array.ndim}-D {array.dtype}")
    shape = est.shape_fit_
    if not isinstance(shape, tuple) or len(shape) != 2 or not all(_is_int(d) and d >= 0 for d in shape):
        return Problem("shape_fit_", f"must be a tuple of 2 non-negative integers, not {shape!r}")
    return None


def _counts(est: Any) -> Problem | None:
    n_support, n_sv = est._n_support, est.support_.shape[0]
    classifier = est._impl in _CLASSIFIERS
    if classifier and n_support.shape[0] < 2 or not classifier and n_support.shape[0] != 2:
        expected = "at least 2" if classifier else "2"
        return Problem("_n_support", f"has {n_support.shape[0]} entries, libsvm expects {expected}")
    if (n_support < 0).any():
        return Problem("_n_support", f"holds a negative count {int(n_support.min())}")
    counted = int(n_support.astype(np.int64).sum()) if classifier else int(n_support[0])
    if counted != n_sv:
        how = "summed over classes" if classifier else "first entry"
        return Problem("_n_support", f"counts {counted} support vectors ({how}) but support_ lists {n_sv}")
    return None


def _coefficients(est: Any) -> Problem | None:
    n_class, n_sv = est._n_support.shape[0], est.support_.shape[0]
    pairs = n_class * (n_class - 1) // 2
    if est._dual_coef_.shape != (n_class - 1, n_sv):
        return Problem("_dual_coef_", f"has shape {list(est._dual_coef_.shape)}, libsvm reads "
                                      f"{[n_class - 1, n_sv]} (classes - 1, support vectors)")
    if est._intercept_.shape != (pairs,):
        return Problem("_intercept_", f"has {est._intercept_.shape[0]} entries, libsvm reads {pairs} "
                                      f"(one per pair of {n_class} classes)")
    for name in ("_probA", "_probB"):
        size = getattr(est, name).shape[0]
        if size not in (0, pairs):
            return Problem(name, f"has {size} entries, expected 0 or {pairs} (one per pair of classes)")
    if est._probA.shape != est._probB.shape:
        return Problem("_probB", f"has {est._probB.shape[0]} entries but _probA has {est._probA.shape[0]}")
    return None


def _vectors(est: Any) -> Problem | None:
    (n_samples, n_features), support = est.shape_fit_, est.support_
    outside = support[(support < 0) | (support >= n_samples)]
    if outside.size:
        return Problem("support_", f"indexes training sample {int(outside[0])} outside [0, {n_samples}) "
                                   "(shape_fit_[0])")
    if not _is_int(est.n_features_in_) or est.n_features_in_ != n_features:
        return Problem("n_features_in_", f"is {est.n_features_in_!r} but shape_fit_ says {n_features} features")
    vectors = est.support_vectors_.shape
    if est.kernel == "precomputed":
        if n_samples != n_features or vectors[0] * vectors[1] != 0:
            return Problem("support_vectors_", f"a precomputed-kernel SVM has no support vectors and a square "
                                               f"shape_fit_, not {list(vectors)} and {[n_samples, n_features]}")
    elif vectors != (support.shape[0], n_features):
        return Problem("support_vectors_", f"has shape {list(vectors)}, expected {[support.shape[0], n_features]} "
                                           f"(one row per support_ entry, shape_fit_[1] features)")
    return None


def _classes(est: Any) -> Problem | None:
    n_class = est._n_support.shape[0]
    classifier = est._impl in _CLASSIFIERS
    classes = vars(est).get("classes_")
    if classifier and (not isinstance(classes, np.ndarray) or classes.shape != (n_class,)):
        found = list(classes.shape) if isinstance(classes, np.ndarray) else type(classes).__name__
        return Problem("classes_", f"must be an array of {n_class} labels (one per _n_support entry), not {found}")
    weights = vars(est).get("class_weight_")
    if weights is not None or classifier:
        if not isinstance(weights, np.ndarray) or weights.dtype != np.float64 or weights.ndim != 1 \
                or classifier and weights.shape[0] != n_class:
            return Problem("class_weight_", f"must be a float64 array of {n_class} class weights")
    return None


def _public(est: Any) -> Problem | None:
    for public, private in (("dual_coef_", "_dual_coef_"), ("intercept_", "_intercept_")):
        value = vars(est).get(public)
        if value is not None and (not isinstance(value, np.ndarray) or value.shape != getattr(est, private).shape):
            return Problem(public, f"must be an array shaped like {private} {list(getattr(est, private).shape)}")
    return None


_CHECKS: tuple[Callable[[Any], Problem | None], ...] = (
    _overrides, _missing, _flags, _hyperparameters, _arrays, _counts, _coefficients, _vectors, _classes, _public,
)
