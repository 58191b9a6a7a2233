"""The pretrained format against DeepChem's own checkpoints, for a ~50M-parameter MultitaskRegressor.

Rows:
* ``from_pretrained`` (checksums verified) vs DeepChem's path: construct with the same arguments + ``restore()``.
* ``to_pretrained`` vs ``save_checkpoint``.
* peak memory of loading: how far the resident set of a fresh process (frameworks already imported)
  rises while it loads the model, ours vs DeepChem's.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import Row, best_of

ROOT = Path(__file__).resolve().parent.parent
ARGS = {"n_tasks": 1, "n_features": 4096, "layer_sizes": [8192, 2048]}  # 33.5M + 16.8M weights
QUICK_ARGS = {"n_tasks": 1, "n_features": 1024, "layer_sizes": [2048, 512]}

_LOAD_SCRIPT = """
import json, sys
import dchub_client, deepchem as dc
how, folder, args = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])

open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
before = status("VmRSS")
if how == "ours":
    model = dchub_client.from_pretrained(folder)
else:
    model = dc.models.MultitaskRegressor(**args, model_dir=folder)
    model.restore()
print(status("VmHWM") - before)
"""


def _peak_rss_mib(how: str, folder: Path, args: dict) -> float:
    out = subprocess.run([sys.executable, "-c", _LOAD_SCRIPT, how, str(folder), json.dumps(args)],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def run(quick: bool) -> list[Row]:
    import deepchem as dc
    import torch

    import dchub_client

    args = QUICK_ARGS if quick else ARGS
    work = Path(tempfile.mkdtemp(prefix="bench-pretrained-"))
    try:
        torch.manual_seed(0)
        model = dc.models.MultitaskRegressor(**args, model_dir=str(work / "dc"))
        n_params = sum(p.numel() for p in model.model.parameters())
        label = f"MultitaskRegressor {n_params / 1e6:.0f}M params"

        save_ours = best_of(lambda: dchub_client.to_pretrained(model, work / "ours", overwrite=True))
        save_dc = best_of(lambda: model.save_checkpoint(max_checkpoints_to_keep=1))

        def dc_restore() -> None:
            fresh = dc.models.MultitaskRegressor(**args, model_dir=str(work / "dc"))
            fresh.restore()

        load_ours = best_of(lambda: dchub_client.from_pretrained(work / "ours"))
        load_dc = best_of(dc_restore)
        load_ours_noverify = best_of(lambda: dchub_client.from_pretrained(work / "ours", verify=False))
        rss_ours = _peak_rss_mib("ours", work / "ours", args)
        rss_dc = _peak_rss_mib("dc", work / "dc", args)
        return [
            Row(f"from_pretrained, {label}", load_ours, "construct + restore()", load_dc),
            Row(f"from_pretrained(verify=False), {label}", load_ours_noverify, "construct + restore()", load_dc),
            Row(f"to_pretrained, {label}", save_ours, "save_checkpoint()", save_dc),
            Row(f"peak RSS growth while loading, {label}", rss_ours, "construct + restore()", rss_dc, unit="M"),
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    for row in run("--quick" in sys.argv):
        print(row)
