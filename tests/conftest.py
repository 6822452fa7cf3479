"""Markers: tests marked ``cuda`` are skipped, with a reason, when torch sees no GPU."""
import pytest
import torch


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="no CUDA GPU visible")
    for item in items:
        if item.get_closest_marker("cuda") is not None:
            item.add_marker(skip)
