"""The Flower app objects: ``server_app`` (the computing party) and ``client_app`` (a participant).

A Flower app's ``pyproject.toml`` names them as components (``examples/flower/``)::

    [tool.flwr.app.components]
    serverapp = "hefl.flower.apps:server_app"
    clientapp = "hefl.flower.apps:client_app"

The ClientApp uses Flower's message API (``@app.query``, ``@app.train``, ``@app.evaluate``); its
handlers are thin: each finds this node's participant (:mod:`hefl.flower.client`)
and turns its result into a reply; an error (a job that does not match the chain, a round closed
before the submission) becomes Flower's error reply, which the server logs and leaves out.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flwr.app import Context, Message
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp

from hefl.flower import client, wire
from hefl.flower.server import HeflStrategy, run_party

log = logging.getLogger("hefl.flower")

#: The strategy of the last ServerApp run in this process (the simulation engine runs the
#: ServerApp in a thread of the caller's process; ``hefl flower simulate`` reads it back).
LAST_RUN: list[HeflStrategy] = []


def _reply(message: Message, payload: dict[str, Any]) -> Message:
    return Message(wire.record(payload), reply_to=message)


def build_apps(
    overrides: Mapping[str, Any] | None = None,
    *,
    update_hook: client.UpdateHook | None = None,
    strategy_class: type[HeflStrategy] = HeflStrategy,
) -> tuple[ServerApp, ClientApp]:
    """A ServerApp and a ClientApp whose run config is Flower's, updated with ``overrides``
    (``run_simulation`` passes no run config; ``flwr run`` the app's and ``--run-config``).

    ``update_hook`` (:data:`hefl.flower.client.UpdateHook`) and ``strategy_class`` (a subclass of
    :class:`HeflStrategy`) are extension points the tests use to play dishonest agents."""
    fixed = dict(overrides or {})
    client_app = ClientApp()
    server_app = ServerApp()

    def participant(context: Context) -> client.Participant:
        run_config = {**dict(context.run_config), **fixed}
        return client.load_participant(run_config, dict(context.node_config))

    @client_app.query()
    def query(message: Message, context: Context) -> Message:
        """The job check against the chain; replies with the participant's account."""
        return _reply(message, client.identity_reply(participant(context)))

    @client_app.train()
    def train(message: Message, context: Context) -> Message:
        payload = wire.payload(message)
        me = participant(context)
        round_index = wire.get_int(payload, "round")
        model = wire.get_bytes(payload, "global")
        return _reply(message, client.train(me, round_index, model, update_hook))

    @client_app.evaluate()
    def evaluate(message: Message, context: Context) -> Message:
        payload = wire.payload(message)
        me = participant(context)
        round_index = wire.get_int(payload, "round")
        blobs = wire.get_bytes_list(payload, "blobs")
        return _reply(message, client.verify(me, round_index, blobs))

    @server_app.main()
    def main(grid: Grid, context: Context) -> None:
        config = {**dict(context.run_config), **fixed}
        LAST_RUN.append(run_party(grid, config, strategy_class=strategy_class))

    return server_app, client_app


server_app, client_app = build_apps()
