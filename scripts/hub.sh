#!/usr/bin/env bash
# The main command: build the example hub described by hub_manifest.yaml into _hub/.
# Recipes (recipes/*.py) run only for models whose folder (example_models/_build/) is missing or
# whose recipe sources changed, two at a time (--jobs 2); on a fresh clone they train every model on
# CPU in a few minutes (ESOL and Tox21, random and scaffold splits).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

bash scripts/setup.sh
export TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=3
.venv/bin/hubgen build hub_manifest.yaml --out _hub --jobs 2 "$@"

cat <<MSG

The example hub is in $root/_hub
Browse it:
  .venv/bin/hubgen serve _hub        # then open the URL it prints (http://127.0.0.1:8000/ by default)
  or open file://$root/_hub/index.html
Load a model from it:
  DEEPCHEM_MODEL_HUB=$root/_hub TF_USE_LEGACY_KERAS=1 .venv/bin/python -c \\
    'import dchub_client; print(dchub_client.load_pipeline("esol-graphconv").predict(["CCO", "c1ccccc1O"], as_frame=True))'
or from the shell:
  DEEPCHEM_MODEL_HUB=$root/_hub .venv/bin/dchub predict tox21-mtc "CC(C)(c1ccc(O)cc1)c1ccc(O)cc1" "CCO"
MSG
