"""The pretrained format against DeepChem's own checkpoints, for a ~50M-parameter MultitaskRegressor.

Rows (issue 16):
* ``from_pretrained`` (checksums verified) vs DeepChem's path: construct with the same arguments +
  ``restore()`` (target <= 0.3), on a first load (every byte hashed) and on a folder verified before
  (unchanged files are not hashed again); without verification for reference.
* ``to_pretrained`` vs ``save_checkpoint`` (target <= 1.0), timed in turns.
* peak memory of loading: how far the resident set of a fresh process (frameworks already imported)
  rises while it loads the model, ours vs DeepChem's; and the same for a 1 GiB model (268M float32
  parameters), against DeepChem's and against the size of the weights themselves.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import Row, interleaved, spread

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ARGS = {"n_tasks": 1, "n_features": 4096, "layer_sizes": [8192, 2048]}  # 33.5M + 16.8M weights
QUICK_ARGS = {"n_tasks": 1, "n_features": 1024, "layer_sizes": [2048, 512]}
BIG_ARGS = {"n_tasks": 1, "n_features": 16384, "layer_sizes": [16384]}  # 268M float32 parameters: 1 GiB
BIG_QUICK_ARGS = {"n_tasks": 1, "n_features": 8192, "layer_sizes": [8192]}

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
    from dchub_client.format import stamps

    args = QUICK_ARGS if quick else ARGS
    work = Path(tempfile.mkdtemp(prefix="bench-pretrained-", dir=HERE / "_out"))
    try:
        torch.manual_seed(0)
        model = dc.models.MultitaskRegressor(**args, model_dir=str(work / "dc"))
        n_params = sum(p.numel() for p in model.model.parameters())
        label = f"MultitaskRegressor {n_params / 1e6:.0f}M params"
        arrays = [p.detach().numpy() for p in model.model.parameters()]
        # each save goes to an empty place (the last one removed untimed): what is timed is the save, not
        # the removal of 200 MB saved a moment before (DeepChem would remove its last checkpoint first too)
        saves = interleaved({"ours": lambda: dchub_client.to_pretrained(model, work / "ours"),
                             "dc": lambda: model.save_checkpoint(max_checkpoints_to_keep=1),
                             "sha256": lambda: [hashlib.sha256(a).digest() for a in arrays]}, repeat=9,
                            setup={"ours": lambda: shutil.rmtree(work / "ours", ignore_errors=True),
                                   "dc": lambda: [p.unlink() for p in (work / "dc").glob("checkpoint*.pt")]})

        def dc_restore() -> None:
            fresh = dc.models.MultitaskRegressor(**args, model_dir=str(work / "dc"))
            fresh.restore()

        # first loads: every byte hashed (the notes of files verified before are removed each time); then
        # loads of the folder as verified before (its unchanged files are not hashed again: format/stamps.py)
        notes = stamps.Stamps.of(work / "ours").record
        forget = lambda: notes.unlink(missing_ok=True)  # noqa: E731
        time.sleep(max(0.0, stamps.RACY_SECONDS + 0.1 - (time.time() - (work / "ours").stat().st_mtime)))
        loads = interleaved({"ours": lambda: dchub_client.from_pretrained(work / "ours"), "dc": dc_restore,
                             "ours, no verify": lambda: dchub_client.from_pretrained(work / "ours", verify=False),
                             "ours, verified before": lambda: dchub_client.from_pretrained(work / "ours")},
                            repeat=5, setup={"ours": forget})
        rss_ours = _peak_rss_mib("ours", work / "ours", args)
        rss_dc = _peak_rss_mib("dc", work / "dc", args)
        rows = [
            Row(f"from_pretrained, first load (every byte hashed), {label}", min(loads["ours"]),
                "construct + restore()", min(loads["dc"]), target=0.3,
                note=f"ours {spread(loads['ours'])}, DeepChem {spread(loads['dc'])}"),
            Row(f"from_pretrained, a folder verified before (unchanged files not hashed again), {label}",
                min(loads["ours, verified before"]), "construct + restore()", min(loads["dc"]), target=0.3,
                note=f"ours {spread(loads['ours, verified before'])}; each file's device, inode, size, mtime and "
                     f"ctime checked against the notes of the load before"),
            Row(f"from_pretrained(verify=False), {label}", min(loads["ours, no verify"]), "construct + restore()",
                min(loads["dc"]), target=None),
            Row(f"to_pretrained, {label}", min(saves["ours"]), "save_checkpoint()", min(saves["dc"]), target=1.0,
                note=f"ours {spread(saves['ours'])}, DeepChem {spread(saves['dc'])}; each into an empty place"),
            Row(f"sha256 of every weight byte (one thread), {label}", min(saves["sha256"]), "save_checkpoint()",
                min(saves["dc"]), target=None,
                note="what the format adds to a save (params.json records each weight's sha256), for reference: "
                     "to_pretrained hashes on helper threads while it writes, so the hash of its largest weight "
                     "is about as short as a save can be"),
            Row(f"peak RSS growth while loading, {label}", rss_ours, "construct + restore()", rss_dc, unit="M",
                target=None),
        ]
        return rows + _big_rss_rows(work, quick)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _big_rss_rows(work: Path, quick: bool) -> list[Row]:
    """Peak memory of loading a 1 GiB model (a quarter of that with ``quick``)."""
    import deepchem as dc
    import torch

    import dchub_client

    args = BIG_QUICK_ARGS if quick else BIG_ARGS
    torch.manual_seed(0)
    model = dc.models.MultitaskRegressor(**args, model_dir=str(work / "dc-big"))
    nbytes = sum(p.numel() * p.element_size() for p in model.model.parameters())
    dchub_client.to_pretrained(model, work / "ours-big")
    model.save_checkpoint(max_checkpoints_to_keep=1)
    del model
    rss_ours = _peak_rss_mib("ours", work / "ours-big", args)
    rss_dc = _peak_rss_mib("dc", work / "dc-big", args)
    label = f"peak RSS growth while loading a {nbytes / 2**30:.2g} GiB model"
    return [Row(label, rss_ours, "construct + restore()", rss_dc, unit="M", target=None),
            Row(label, rss_ours, "the weights' own size", nbytes / 2**20, unit="M", target=None,
                note="1.0 would mean no copy of the weights is ever held besides the model's own")]


if __name__ == "__main__":
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    for row in run("--quick" in sys.argv):
        print(row)
