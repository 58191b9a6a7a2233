"""hubgen: turn pretrained folders into a static, content-addressed model hub.

``build_hub`` writes the tree described in ``docs/format.md`` §2 from ``hub_manifest.yaml``;
``verify_hub`` checks a hub folder or URL.
"""
from __future__ import annotations

from hubgen.build import BuildSummary, build_hub
from hubgen.manifest import HubSpec, ModelSpec, load_hub_manifest
from hubgen.verify import VerifyReport, verify_hub

__all__ = ["BuildSummary", "HubSpec", "ModelSpec", "VerifyReport", "build_hub", "load_hub_manifest", "verify_hub"]
