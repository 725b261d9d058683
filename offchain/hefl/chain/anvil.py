"""A local Anvil node (from the npm package ``@foundry-rs/anvil-linux-amd64``) on loopback.

``hefl node`` runs it in the foreground with a state file, so the ledger survives a restart of the
node (Anvil loads the file at start, dumps it every ``state_interval`` seconds and on exit). The
rest of hefl talks to it as to any JSON-RPC node: nothing here is needed to use another node.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from hefl.errors import ChainError, ConfigError

#: Overrides where the Anvil binary is looked for.
ANVIL_ENV = "HEFL_ANVIL"
_PACKAGE_BINARY = Path("node_modules", "@foundry-rs", "anvil-linux-amd64", "bin", "anvil")
#: Seconds Anvil may take to answer its first request.
START_TIMEOUT_S = 30.0
#: Seconds between two state dumps.
STATE_INTERVAL_S = 1


def find_anvil() -> Path:
    """``$HEFL_ANVIL``, else ``node_modules`` above the working directory or this checkout,
    else ``anvil`` on PATH."""
    if os.environ.get(ANVIL_ENV):
        return Path(os.environ[ANVIL_ENV])
    starts = [Path.cwd(), Path(__file__).resolve()]
    for start in starts:
        for folder in [start, *start.parents]:
            candidate = folder / _PACKAGE_BINARY
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return candidate
    on_path = shutil.which("anvil")
    if on_path:
        return Path(on_path)
    raise ConfigError(
        "no Anvil binary found: run `npm ci` in the hefl checkout (it installs "
        f"@foundry-rs/anvil-linux-amd64), or set {ANVIL_ENV} to the binary's path"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def anvil_command(
    port: int, *, state: Path | None = None, accounts: int = 10, host: str = "127.0.0.1"
) -> list[str]:
    command = [str(find_anvil()), "--host", host, "--port", str(port), "--accounts", str(accounts)]
    if state is not None:
        command += ["--state", str(state), "--state-interval", str(STATE_INTERVAL_S)]
    return command


def wait_until_ready(url: str, process: subprocess.Popen[bytes] | None = None) -> None:
    """Poll ``url`` with ``eth_chainId`` until the node answers (or the process died)."""
    import json
    import urllib.request

    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ChainError(f"the node exited with code {process.returncode} before answering")
        try:
            request = urllib.request.Request(
                url, data=body, headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=1.0) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise ChainError(f"no node answered at {url} within {START_TIMEOUT_S} s")


def start_anvil(
    port: int | None = None, *, state: Path | None = None, accounts: int = 10
) -> tuple[subprocess.Popen[bytes], str]:
    """Start Anvil in the background; return the process and its URL once it answers."""
    port = port or free_port()
    process = subprocess.Popen(
        anvil_command(port, state=state, accounts=accounts),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process)
    except ChainError:
        process.kill()
        raise
    return process, url
