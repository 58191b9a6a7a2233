#!/usr/bin/env bash
# The main command: build the example hub described by hub_manifest.yaml into _hub/.
# Recipes (recipes/*.py) run only for models whose folder (example_models/_build/) is missing or
# whose recipe sources changed; each trains on CPU in well under a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

bash scripts/setup.sh
export TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=3
.venv/bin/hubgen build hub_manifest.yaml --out _hub "$@"

cat <<MSG

The example hub is in $root/_hub
Browse it:
  .venv/bin/hubgen serve _hub        # then open the URL it prints (http://127.0.0.1:8000/ by default)
  or open file://$root/_hub/index.html
Load a model from it:
  DEEPCHEM_MODEL_HUB=$root/_hub TF_USE_LEGACY_KERAS=1 .venv/bin/python -c \\
    'import dchub_client; print(dchub_client.load_pipeline("nci-tpsa-mtr").predict(["CCO", "c1ccccc1O"]))'
MSG
