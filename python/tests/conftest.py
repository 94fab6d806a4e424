"""Shared fixtures: the monitor module (loaded from its file) and the SPEC §8 vectors."""

import importlib.util
import json
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
MONITOR_PATH = os.path.join(os.path.dirname(HERE), "openclaw_fleet_monitor.py")


def load_monitor():
    spec = importlib.util.spec_from_file_location("openclaw_fleet_monitor", MONITOR_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["openclaw_fleet_monitor"] = module
    spec.loader.exec_module(module)
    return module


def vectors_dir():
    override = os.environ.get("OPENCLAW_FLEET_VECTORS")
    if override:
        return override
    return os.path.join(os.path.dirname(os.path.dirname(HERE)), "spec", "test-vectors")


def load_vectors(name):
    with open(os.path.join(vectors_dir(), name), encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="session")
def mon():
    return load_monitor()
