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


class StateFileError(EntrobustError):
    """A state file (run directory or results directory) that cannot be trusted: not JSON,
    the wrong shape, a checkpoint without its keys, a symlinked run directory. The message
    names the file and says what to do."""


class StateWriteError(EntrobustError, OSError):
    """A state file that cannot be written (read-only or full disk); the message names it."""


class DataMismatchError(EntrobustError):
    """Data that is not the data a run was trained on (other images under the same name, or
    another shape, channel count or number of classes)."""
