"""The Flower app hefl ships: ``hefl flower new DIR`` writes it, ``examples/flower`` is a copy.

A Flower app is a directory with a ``pyproject.toml`` whose ``[tool.flwr.app]`` names the
components (hefl's ServerApp and ClientApp, :mod:`hefl.flower.apps`) and declares the run-config
keys (:mod:`hefl.flower.wire`) that ``flwr run DIR SUPERLINK --run-config FILE`` fills in with the
prepared job. The files live here, in the package, so that an installed hefl can write them.
"""

from __future__ import annotations

from pathlib import Path

from hefl.errors import ConfigError

#: Relative path → text of every file of the app.
FILES: dict[str, str] = {
    "hefl_flower_app/__init__.py": '''\
"""The Flower app's components: hefl's ServerApp (computing party) and ClientApp (participant)."""
''',
    "hefl_flower_app/apps.py": '''\
"""Re-exports :mod:`hefl.flower.apps` so that ``flwr run`` finds the components in this app."""

from hefl.flower.apps import client_app, server_app

__all__ = ["client_app", "server_app"]
''',
    "pyproject.toml": """\
# A Flower app running hefl's encrypted, ledger-audited job (see README "Running on Flower").
# The job (ledger, keys, participants' directories) is prepared first; its files reach the apps
# through the run config below (override with `flwr run . SUPERLINK --run-config FILE`).
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "hefl-flower-app"
version = "0.1.0"
description = "Paillier-encrypted federated linear regression with an FLLedger audit trail"
license = "MIT"
dependencies = ["flwr[simulation]==1.42.0"]

[tool.hatch.build.targets.wheel]
packages = ["."]

[tool.flwr.app]
publisher = "hefl"

[tool.flwr.app.components]
serverapp = "hefl_flower_app.apps:server_app"
clientapp = "hefl_flower_app.apps:client_app"

[tool.flwr.app.config]
# The prepared job: `job` is the job file's text (each ClientApp checks it on chain), the
# rest where the party's files live. `hefl flower new DIR` writes them; or pass --run-config.
job = ""
job-file = ""
rpc-url = "http://127.0.0.1:8545"
party-dir = ""
blobs = ""
out = ""
evaluator = ""
participants-root = ""
password-file = ""
reply-timeout = 120.0
""",
}


def write_app(directory: Path) -> list[Path]:
    """Write the app into ``directory`` (new or empty); the paths written."""
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise ConfigError(f"{directory} is not empty; give a new directory")
    written = []
    for relative, text in FILES.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written
