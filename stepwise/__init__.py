"""Stepwise: automated math grading for teachers."""

__version__ = "0.1.0"
