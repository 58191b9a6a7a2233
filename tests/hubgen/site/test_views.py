"""Pure helpers of the site: weight-name grouping, sampling, parameter text, numbers, chart geometry."""
from __future__ import annotations

import numpy as np
import pytest

from hubgen.site import card_rows, svg
from hubgen.site.card_rows import short_split
from hubgen.site.reader import SAMPLE_CHUNKS, SAMPLE_ELEMENTS, sample_ranges
from hubgen.site.views import count_text, describe, dtype_text, size_text, split_weight_name


@pytest.mark.parametrize("name, parts", [
    ("multitaskregressor-layers.0-0", ("multitaskregressor", "layers.0", "0")),
    ("gcnmodel-model.graph_conv.1.w-12", ("gcnmodel", "model.graph_conv.1.w", "12")),
    ("optimizer-adam-3", ("optimizer", "adam", "3")),
    ("lonely", ("", "lonely", "")),
    ("model-0", ("", "model-0", "")),
])
def test_split_weight_name(name: str, parts: tuple[str, str, str]) -> None:
    assert split_weight_name(name) == parts


def test_sample_ranges_small_and_large() -> None:
    assert sample_ranges(0) == [] and sample_ranges(10) == [(0, 10)]
    assert sample_ranges(SAMPLE_ELEMENTS) == [(0, SAMPLE_ELEMENTS)]
    count = 10 * SAMPLE_ELEMENTS + 7
    ranges = sample_ranges(count)
    assert len(ranges) == SAMPLE_CHUNKS and sum(b - a for a, b in ranges) == SAMPLE_ELEMENTS
    assert ranges[0][0] == 0 and ranges[-1][1] == count  # first and last values are included
    assert all(a < b <= c for (a, b), (c, _) in zip(ranges, ranges[1:]))  # sorted, not overlapping
    assert sample_ranges(count) == ranges


def test_describe_tagged_parameters() -> None:
    assert describe({"__dchub__": "tuple", "items": [1]}) == "(1,)"
    assert describe({"__dchub__": "float", "value": "nan"}) == "nan"
    assert describe({"__dchub__": "ref", "name": "torch.nn.functional.relu"}) == "torch.nn.functional.relu"
    assert describe({"__dchub__": "object", "class": "deepchem.models.optimizers.Adam",
                     "kwargs": {"learning_rate": {"__dchub__": "object", "class": "deepchem.models.optimizers."
                                                  "ExponentialDecay", "kwargs": {"initial_rate": 0.001}}}}) == \
        "deepchem.models.optimizers.Adam(learning_rate=deepchem.models.optimizers.ExponentialDecay(initial_rate=0.001))"
    assert describe({"__dchub__": "ndarray", "dtype": "<f4", "shape": [2, 3], "data": []}) == \
        "array(shape=[2, 3], dtype=<f4)"
    assert describe({"__dchub__": "dict", "items": [[1, "a"]]}) == '{1: "a"}'
    assert describe({"a": [None, True, "x"]}) == '{a: [null, true, "x"]}'


def test_numbers() -> None:
    assert [count_text(n) for n in (0, 9_999, 10_000, 1_234_567, 7_000_000_000)] == \
        ["0", "9,999", "10K", "1.23M", "7B"]
    assert [size_text(n) for n in (0, 1023, 1536, 5 << 20)] == ["0 B", "1023 B", "1.5 KiB", "5.0 MiB"]


def test_chart_numbers_read_plainly() -> None:
    """Axis and histogram labels: a molecular weight of 1883 read ``1.88e+03``; scientific notation is kept
    for very small and very large values only."""
    values = (0, 0.0123, 45.06, 123.4, 999.6, 1883.4, -1883.4, 45_678.9, 1.2e-5, 1.5e6)
    assert [svg.number(v) for v in values] == \
        ["0", "0.0123", "45.1", "123", "1,000", "1,883", "-1,883", "45,679", "1.2e-05", "1.5e+06"]
    hist = svg.histogram(np.array([9.01, 500.0, 1883.4]), bins=2)
    assert hist is not None and (hist.low, hist.high) == ("9.01", "1,883") and "e+" not in hist.bars[1].label


def test_histogram_geometry() -> None:
    values = np.array([0.0, 0.0, 1.0, np.nan, np.inf], dtype=np.float32)
    hist = svg.histogram(values, bins=2)
    assert hist is not None and hist.count == 3 and hist.nonfinite == 2
    assert [(b.height, b.value) for b in hist.bars] == [(60.0, "2"), (30.0, "1")]
    assert (hist.low, hist.high) == ("0", "1")
    assert svg.histogram(np.array([np.nan])) is None
    constant = svg.histogram(np.full(5, 3.0), bins=3)
    assert constant is not None and [b.value for b in constant.bars] == ["0", "5", "0"]


def test_bar_chart_geometry() -> None:
    chart = svg.bar_chart([("a", 100), ("b", 50), ("c", 0), ("x" * 50, 1)])
    widths = [bar.width for bar in chart.bars]
    assert widths[0] == 2 * widths[1] and widths[2] == 0 and widths[3] >= 1
    assert chart.bars[3].short.startswith("…") and len(chart.bars[3].short) < 50
    assert chart.bars[3].label == "x" * 50 and chart.height == 4 * 18


def test_describe_sklearn_estimator_shows_class_and_hyperparameters() -> None:
    wrapped = {"__dchub__": "object", "class": "dchub_client.models.adapters.sklearn_state.FittedEstimator",
               "kwargs": {"spec": {"sk": "estimator",
                                   "class": {"__dchub__": "ref", "name": "sklearn.ensemble.RandomForestRegressor"},
                                   "params": {"n_estimators": 50, "max_depth": None},
                                   "state": {"n_features_in_": 12}}}}
    assert describe(wrapped) == "sklearn.ensemble.RandomForestRegressor(n_estimators=50, max_depth=null), fitted"


def test_dtype_text_and_short_split() -> None:
    assert dtype_text(np.dtype("float32")) == "float32"
    nodes = np.dtype([("left_child", "<i8"), ("threshold", "<f8")])
    assert dtype_text(nodes) == "record of 2 fields"
    assert short_split("scaffold 80/20 (deepchem ScaffoldSplitter), held-out test set") == \
        "scaffold 80/20, held-out test set"
    assert short_split("random (seed 0)") == "random" and short_split("(all)") == "(all)"


def test_card_metrics_forms() -> None:
    card = {"training_data": {"name": "NCI TPSA", "molecules": 2000},
            "metrics": [{"name": "r2", "value": 0.44684, "split": "scaffold test"},
                        {"name": "rmse", "value": 35.3064}, {"name": "mae", "value": 2, "split": "x", "dataset": "y"}]}
    found = card_rows.metrics(card)
    assert [(m.name, m.value, m.split, m.dataset) for m in found] == [
        ("r2", "0.4468", "scaffold test", "NCI TPSA"), ("rmse", "35.31", "", ""), ("mae", "2", "x", "y")]
    assert card_rows.headline(found, "rmse") == found[1] and card_rows.headline(found, None) == found[0]
    assert card_rows.headline(found, "nope") is None
    assert [(m.name, m.value) for m in card_rows.metrics({"metrics": {"b": 1.0, "a": 0.5}})] == [("a", "0.5"),
                                                                                                ("b", "1")]
    assert card_rows.training_data_name({"training_data": "x" * 81}) == ""
