"""Re-exports :mod:`hefl.flower.apps` so that ``flwr run`` finds the components in this app."""

from hefl.flower.apps import client_app, server_app

__all__ = ["client_app", "server_app"]
