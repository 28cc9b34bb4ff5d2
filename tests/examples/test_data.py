"""The committed example usage file is exactly what its generator writes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

DATA = Path(__file__).parents[2] / "examples" / "data"


def test_usage_file_matches_its_generator() -> None:
    spec = importlib.util.spec_from_file_location("telemetry_usage", DATA / "telemetry_usage.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = (DATA / "telemetry.usage.jsonl").read_text()
    assert module.render() == committed, "run: python3 examples/data/telemetry_usage.py"
