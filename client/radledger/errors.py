"""Every error radledger raises, under one root: :class:`RadledgerError`."""

from __future__ import annotations


class RadledgerError(Exception):
    """Root of every radledger error."""


class CompilerError(RadledgerError):
    """The contracts could not be compiled, or the artifacts cannot be checked."""
