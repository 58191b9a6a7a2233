"""The numbers MoleculeNet published, to compare every example model with.

Wu, Z.; Ramsundar, B.; Feinberg, E. N.; Gomes, J.; Geniesse, C.; Pappu, A. S.; Leswing, K.;
Pande, V. MoleculeNet: a benchmark for molecular machine learning. Chem. Sci. 2018, 9, 513-530.

The values are the paper's test-set results with its recommended split for the data set
(random 80/10/10 for ESOL and Tox21): mean ± standard deviation over three random splits.
ESOL: root-mean-square error in log10(mol/L); Tox21: ROC-AUC averaged over the 12 assays.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CITATION = ("Wu, Z.; Ramsundar, B.; Feinberg, E. N.; Gomes, J.; Geniesse, C.; Pappu, A. S.; Leswing, K.; "
            "Pande, V. MoleculeNet: a benchmark for molecular machine learning. Chem. Sci. 2018, 9, 513-530.")
DOI = "10.1039/C7SC02664A"
BIBTEX = ("@article{wu2018moleculenet,\n  title = {{MoleculeNet}: a benchmark for molecular machine learning},\n"
          "  author = {Wu, Zhenqin and Ramsundar, Bharath and Feinberg, Evan N. and Gomes, Joseph and "
          "Geniesse, Caleb and Pappu, Aneesh S. and Leswing, Karl and Pande, Vijay},\n  journal = {Chem. Sci.},\n"
          "  volume = {9},\n  number = {2},\n  pages = {513--530},\n  year = {2018},\n"
          "  doi = {10.1039/C7SC02664A}\n}")
#: How the two numbers differ in kind (shown with the comparison).
NOTE = ("MoleculeNet's number is the mean ± standard deviation of three random splits; this model's is one random "
        "split (seed 0) of the same data set, so a difference of about one standard deviation is within the noise of "
        "the split.")
#: Whether a larger value of the metric is better.
HIGHER_IS_BETTER = {"rmse": False, "roc_auc": True}


@dataclass(frozen=True)
class Published:
    """One published result: a model family on a data set, with its spread."""

    dataset: str
    family: str
    metric: str
    value: float
    spread: float
    split: str = "random"


#: (data set, model family) -> the published test-set result.
PUBLISHED: dict[tuple[str, str], Published] = {
    ("ESOL", "GC"): Published("ESOL", "GC (graph convolution)", "rmse", 0.97, 0.01),
    ("ESOL", "Multitask"): Published("ESOL", "Multitask network (ECFP)", "rmse", 1.12, 0.19),
    ("ESOL", "RF"): Published("ESOL", "Random forest (ECFP)", "rmse", 1.07, 0.19),
    ("Tox21", "Multitask"): Published("Tox21", "Multitask network (ECFP)", "roc_auc", 0.803, 0.012),
    ("Tox21", "GC"): Published("Tox21", "GC (graph convolution)", "roc_auc", 0.829, 0.006),
}


def verdict(published: Published, measured: float) -> str:
    """``better``, ``within`` (inside the published mean ± spread) or ``misses``."""
    gain = measured - published.value if HIGHER_IS_BETTER[published.metric] else published.value - measured
    if gain > published.spread:
        return "better"
    return "within" if gain >= -published.spread else "misses"


def comparison(dataset: str, family: str, measured: float) -> dict[str, Any]:
    """The card's ``moleculenet`` entry: the published number, ours on the same split type, the verdict."""
    published = PUBLISHED[(dataset, family)]
    outcome = verdict(published, measured)
    return {
        "dataset": published.dataset, "family": published.family, "metric": published.metric,
        "split": published.split, "published": published.value, "spread": published.spread,
        "measured": round(measured, 4), "verdict": outcome, "summary": _summary(published, measured, outcome),
        "note": NOTE, "citation": CITATION, "doi": DOI,
    }


def _summary(published: Published, measured: float, outcome: str) -> str:
    ref = f"MoleculeNet's {published.family} on {published.dataset}, {published.value} ± {published.spread}"
    words = {"better": "is better than", "within": "is within the spread of", "misses": "MISSES the spread of"}
    tail = "" if outcome != "misses" else (
        f" (by {abs(measured - published.value) - published.spread:.4f})")
    return f"{published.metric} {measured:.4f} on a {published.split} split {words[outcome]} {ref}{tail}."
