"""A Flower deployment on loopback as real processes: one SuperLink, one SuperNode per
participant, and ``flwr run`` — the deployment engine that spans machines, shrunk to one. With
``simulation=True`` the SuperLink runs Flower's simulation engine instead (``--simulation``, one
simulated SuperNode per participant), so ``flwr run`` starts the same app on Ray.

Every process listens on 127.0.0.1 only, runs without TLS (``--insecure``) and is stopped on exit
(:meth:`LoopbackDeployment.close`). Between machines the same commands take TLS certificates
(``--ssl-certfile/--ssl-keyfile/--ssl-ca-certfile`` on the SuperLink, ``--root-certificates`` on
SuperNodes) and node authentication (``--enable-supernode-auth`` with
``--auth-supernode-private-key/--auth-supernode-public-key``); hefl's messages do not change.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hefl.chain.anvil import free_port
from hefl.errors import AgentError

#: Seconds a SuperLink may take to accept connections.
START_TIMEOUT_S = 60.0
#: The Flower app hefl ships (``examples/flower``), relative to the checkout.
EXAMPLE_APP = Path(__file__).resolve().parents[3] / "examples" / "flower"


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_run_config(path: Path, config: dict[str, Any]) -> Path:
    """A TOML file for ``flwr run --run-config``."""
    path.write_text("".join(f"{key} = {_toml_value(v)}\n" for key, v in config.items()))
    return path


@dataclass
class LoopbackDeployment:
    """SuperLink + SuperNodes on 127.0.0.1 (see the module docstring)."""

    workdir: Path
    participant_dirs: list[Path]
    port: int = field(default_factory=free_port)
    #: ``True``: the SuperLink runs Flower's simulation engine (``--simulation``) with one
    #: simulated SuperNode per participant directory, instead of real SuperNode processes.
    simulation: bool = False
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        # The SuperLink and SuperNodes start Flower's other executables by name.
        path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
        return {**os.environ, "PATH": path, "FLWR_HOME": str(self.workdir / "flwr-home")}

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{name}.log").open("wb")
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
        )
        self.processes[name] = process
        return process

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        home = self.workdir / "flwr-home"
        home.mkdir(exist_ok=True)
        (home / "config.toml").write_text(
            f'[superlink]\ndefault = "loopback"\n\n[superlink.loopback]\n'
            f'address = "127.0.0.1:{self.port}"\ninsecure = true\n'
        )
        self._spawn(
            "superlink",
            [
                _bin("flower-superlink"),
                "--insecure",
                "--disable-runtime-dependency-installation",
                "--host", "127.0.0.1",
                "--port", str(self.port),
                *(["--simulation"] if self.simulation else []),
            ],
        )  # fmt: skip
        self._wait_for_port(self.port)
        if not self.simulation:
            for index, directory in enumerate(self.participant_dirs):
                self.start_supernode(index, directory)

    def start_supernode(self, index: int, directory: Path) -> subprocess.Popen[bytes]:
        return self._spawn(
            f"supernode-{index}",
            [
                _bin("flower-supernode"),
                "--insecure",
                "--superlink", f"127.0.0.1:{self.port}",
                "--port", str(free_port()),
                "--node-config", f"participant-dir='{directory}'",
            ],
        )  # fmt: skip

    def _wait_for_port(self, port: int) -> None:
        import socket

        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.processes["superlink"].poll() is not None:
                raise AgentError(f"flower-superlink exited; see {self.workdir}/superlink.log")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                return
            time.sleep(0.2)
        raise AgentError(f"flower-superlink did not listen on {port} in {START_TIMEOUT_S:.0f} s")

    def run(
        self, app: Path, run_config: Path, timeout_s: float
    ) -> subprocess.CompletedProcess[str]:
        """``flwr run APP loopback --run-config FILE --stream``, bounded by ``timeout_s`` (on the
        simulation engine with ``--federation-config num-supernodes=N``)."""
        command = [_bin("flwr"), "run", str(app), "loopback", "--run-config", str(run_config)]
        if self.simulation:
            supernodes = len(self.participant_dirs)
            command += ["--federation-config", f"num-supernodes={supernodes}"]
        return subprocess.run(
            [*command, "--stream"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def kill(self, name: str) -> None:
        """Kill one process (and its children: a SuperNode runs its ClientApp in a subprocess)."""
        process = self.processes[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def close(self) -> None:
        for name in reversed(list(self.processes)):
            process = self.processes[name]
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.kill(name)

    def __enter__(self) -> LoopbackDeployment:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
