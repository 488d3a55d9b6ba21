"""Fixtures of the head tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def seed() -> int:
    """Seed torch's global generator (heads initialise from it) and return the seed."""
    torch.manual_seed(0)
    return 0
