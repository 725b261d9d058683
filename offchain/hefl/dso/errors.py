"""Errors of the decentralised mode (all under :class:`hefl.errors.HeflError`)."""

from __future__ import annotations

from hefl.errors import ConfigError, HeflError, VerificationError


class ScheduleError(ConfigError):
    """A stepsize/attenuation schedule breaks a convergence condition (the message names it)."""


class GraphError(ConfigError):
    """A communication graph is not usable (disconnected, self-loops, unreadable edge list...)."""


class DsoMessageError(HeflError, ValueError):
    """A neighbour's message was malformed, under the wrong key, out of bounds or out of turn.

    The receiving agent refuses it before changing anything: the iteration is not applied.
    """


class StateBoundError(HeflError, OverflowError):
    """An agent's state left the declared bound |x| ≤ state_bound (raise ``--state-bound``)."""


class TranscriptError(VerificationError):
    """A stored transcript does not match the on-chain commitments (names the first mismatch)."""
