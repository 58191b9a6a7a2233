"""dchub_client.quiet: framework output silenced while inside, and nothing broken after the block."""
from __future__ import annotations

import logging
import subprocess
import sys

from dchub_client import quiet

_LATE_HANDLER = """
import logging, sys
from dchub_client import quiet
with quiet.frameworks_quiet(native=True):
    handler = logging.StreamHandler(sys.stderr)  # as torch does when it is imported inside the block
logger = logging.getLogger("late")
logger.addHandler(handler)
logger.warning("written after the block")
"""


def test_a_handler_made_while_native_output_is_captured_writes_to_stderr_afterwards():
    done = subprocess.run([sys.executable, "-c", _LATE_HANDLER], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "written after the block\n"


def test_a_level_a_framework_sets_inside_is_kept_and_others_are_restored():
    torch_logger, rdkit_logger = logging.getLogger("torch"), logging.getLogger("rdkit")
    saved = torch_logger.level, rdkit_logger.level
    try:
        torch_logger.setLevel(logging.NOTSET)
        rdkit_logger.setLevel(logging.INFO)
        with quiet.frameworks_quiet():
            assert torch_logger.level == rdkit_logger.level == logging.ERROR
            torch_logger.setLevel(logging.WARNING)  # torch configures its loggers when first imported
        assert torch_logger.level == logging.WARNING  # not reset to NOTSET (INFO from the root)
        assert rdkit_logger.level == logging.INFO
    finally:
        torch_logger.setLevel(saved[0])
        rdkit_logger.setLevel(saved[1])


_WARNINGS = """
import warnings
from dchub_client import quiet
quiet.silence_frameworks()
warnings.warn_explicit("a DeepChem warning", UserWarning, "torch_model.py", 475, module="deepchem.models.torch_model")
warnings.warn_explicit("a torch warning", UserWarning, "layers.py", 1, module="torch.nn")
warnings.warn_explicit("a torchvision warning", UserWarning, "io.py", 1, module="torchvision.io")
warnings.warn_explicit("a warning of the user's code", UserWarning, "recipe.py", 1, module="recipes.esol")
"""


def test_the_commands_hide_the_frameworks_python_warnings_only():
    done = subprocess.run([sys.executable, "-c", _WARNINGS], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "DeepChem" not in done.stderr and "a torch warning" not in done.stderr
    assert "a torchvision warning" in done.stderr and "the user's code" in done.stderr
