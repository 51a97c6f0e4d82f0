"""turnout as a background service: a systemd user unit (Linux) or a launchd agent (macOS).

Pure: what the unit or agent says, and where it goes; ``cli/service.py`` writes it and
asks systemctl or launchctl to start it. The service runs ``turnout proxy`` with this
Python, so it runs the code and environment it was installed from. It does not see the
shell's environment: a key that comes only from ``ANTHROPIC_API_KEY`` and the like must
be stored (``turnout keys add``) for the service to have it; the unit never holds a key.
"""

from __future__ import annotations

import plistlib
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LABEL", "UNIT", "Service", "launchd_agent", "service_for", "systemd_unit"]

UNIT = "turnout.service"
LABEL = "dev.turnout.proxy"


@dataclass(frozen=True)
class Service:
    path: Path  # where the unit or agent file goes
    text: str  # its contents
    start: tuple[tuple[str, ...], ...]  # commands that load and start it
    stop: tuple[tuple[str, ...], ...]  # commands that stop and unload it
    status: tuple[str, ...]  # a command whose exit code says whether it runs


def systemd_unit(command: Sequence[str], grace: float, log: Path) -> str:
    return f"""[Unit]
Description=turnout, the local LLM router
After=network-online.target

[Service]
ExecStart={shlex.join(command)}
Restart=on-failure
RestartSec=2
# SIGTERM lets requests in flight finish for up to --grace seconds first.
TimeoutStopSec={int(grace) + 10}
StandardOutput=append:{log}
StandardError=append:{log}

[Install]
WantedBy=default.target
"""


def launchd_agent(command: Sequence[str], grace: float, log: Path) -> str:
    agent = {
        "Label": LABEL,
        "ProgramArguments": list(command),
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ExitTimeOut": int(grace) + 10,
        "StandardOutPath": str(log),
        "StandardErrorPath": str(log),
    }
    return plistlib.dumps(agent).decode()


def service_for(
    platform: str, command: Sequence[str], *, home: Path, config_home: Path, uid: int, grace: float, log: Path
) -> Service:
    """The service for ``platform`` (``linux`` or ``darwin``); ValueError for any other."""
    if platform.startswith("linux"):
        path = config_home / "systemd" / "user" / UNIT
        return Service(
            path,
            systemd_unit(command, grace, log),
            start=(
                ("systemctl", "--user", "daemon-reload"),
                ("systemctl", "--user", "enable", "--now", UNIT),
            ),
            stop=(
                ("systemctl", "--user", "disable", "--now", UNIT),
                ("systemctl", "--user", "daemon-reload"),
            ),
            status=("systemctl", "--user", "is-active", "--quiet", UNIT),
        )
    if platform == "darwin":
        path = home / "Library" / "LaunchAgents" / f"{LABEL}.plist"
        return Service(
            path,
            launchd_agent(command, grace, log),
            start=(("launchctl", "bootstrap", f"gui/{uid}", str(path)),),
            stop=(("launchctl", "bootout", f"gui/{uid}/{LABEL}"),),
            status=("launchctl", "print", f"gui/{uid}/{LABEL}"),
        )
    raise ValueError(f"turnout service knows systemd (Linux) and launchd (macOS), not {platform}")
