"""Errors that reach the user as one clear line (the CLI prints them and exits with status 2)."""

from __future__ import annotations


class EntrobustError(Exception):
    """Base class for every error caused by the user's input or environment, not by a bug."""


class UnknownNameError(EntrobustError, KeyError):
    """A name that is not in a registry; the message lists the valid names."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0])


class InvalidValueError(EntrobustError, ValueError):
    """A value outside its valid range (for example ε given as 8 instead of 8/255)."""


class DatasetNotFoundError(EntrobustError, FileNotFoundError):
    """A dataset that is neither on disk nor downloadable; the message says how to get it."""


class CheckpointError(EntrobustError):
    """A checkpoint that is missing, truncated, corrupt or from an incompatible run."""


class TrainingDivergedError(EntrobustError):
    """Training produced a non-finite loss."""
