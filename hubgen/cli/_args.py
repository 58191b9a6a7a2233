"""Argument types shared by hubgen's commands."""
from __future__ import annotations

import argparse


def days(text: str) -> float:
    """A lifetime in days: a number between 0 and 36500 (exclusive)."""
    try:
        value = float(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not a number of days: {text!r}") from err
    if not 0 < value < 36500:
        raise argparse.ArgumentTypeError("must be between 0 and 36500 days")
    return value


def positive_int(text: str) -> int:
    """An integer of at least 1 (a key threshold)."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a positive integer: {text!r}")
    return int(text)
