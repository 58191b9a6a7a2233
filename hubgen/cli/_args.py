"""Argument types shared by hubgen's commands."""
from __future__ import annotations

import argparse

from hubgen.signing import MAX_EXPIRES_DAYS


def days(text: str) -> float:
    """A lifetime in days: a number more than 0 and at most :data:`~hubgen.signing.MAX_EXPIRES_DAYS` (fractions
    allowed: 0.5 is twelve hours)."""
    try:
        value = float(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not a number of days: {text!r}") from err
    if not 0 < value <= MAX_EXPIRES_DAYS:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most {MAX_EXPIRES_DAYS} days, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An integer of at least 1 (a key threshold)."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a positive integer: {text!r}")
    return int(text)
