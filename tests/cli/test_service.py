"""``turnout service``: the unit written, systemctl asked to start it, and the unit's
command really starts turnout. systemctl here is a stand-in that records its calls
(there is no user systemd in a test container); launchd's agent is checked as a plist."""

from __future__ import annotations

import os
import plistlib
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.e2e.test_mitmdump_script import free_port, until_healthy
from turnout.cli.main import app
from turnout.core.service import LABEL, service_for

runner = CliRunner()


@pytest.fixture
def systemctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A systemctl on PATH that logs its arguments and says 'active'."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "systemctl.calls"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexit 0\n')
    (bin_dir / "systemctl").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setattr(sys, "platform", "linux")
    return calls


def test_install_writes_the_unit_and_starts_it_then_uninstall_removes_it(
    systemctl: Path, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["service", "install", "--port", "4567", "--grace", "12"])
    assert result.exit_code == 0, result.output
    unit = tmp_path / "xdg" / "systemd" / "user" / "turnout.service"
    text = unit.read_text()
    assert f"ExecStart={shlex.quote(sys.executable)} -m turnout proxy --port 4567 --grace 12" in text
    assert "TimeoutStopSec=22" in text and "sk-" not in text
    assert systemctl.read_text().splitlines() == [
        "--user daemon-reload",
        "--user enable --now turnout.service",
    ]
    status = runner.invoke(app, ["service", "status", "--port", "4567"])
    assert status.exit_code == 0 and "running" in status.output and "not answering" in status.output
    gone = runner.invoke(app, ["service", "uninstall"])
    assert gone.exit_code == 0 and not unit.exists()
    assert systemctl.read_text().splitlines()[-2:] == [
        "--user disable --now turnout.service",
        "--user daemon-reload",
    ]
    again = runner.invoke(app, ["service", "status"])
    assert again.exit_code == 3 and "not installed" in again.output


def test_the_units_command_starts_turnout(systemctl: Path, tmp_path: Path) -> None:
    port = free_port()
    assert runner.invoke(app, ["service", "install", "--port", str(port)]).exit_code == 0
    unit = (tmp_path / "xdg" / "systemd" / "user" / "turnout.service").read_text()
    command = shlex.split(next(line for line in unit.splitlines() if line.startswith("ExecStart="))[10:])
    proc = subprocess.Popen(
        [*command, "--no-discover"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        until_healthy(f"http://127.0.0.1:{port}", proc, "the unit's command")
    finally:
        proc.send_signal(signal.SIGTERM)  # as systemctl stop does: it drains, then exits 0
        proc.communicate(timeout=30)
    assert proc.returncode == 0


def test_launchd_agent_for_macos(tmp_path: Path) -> None:
    service = service_for(
        "darwin",
        ["/py", "-m", "turnout", "proxy"],
        home=tmp_path,
        config_home=tmp_path,
        uid=501,
        grace=30,
        log=tmp_path / "l",
    )
    assert service.path == tmp_path / "Library" / "LaunchAgents" / f"{LABEL}.plist"
    agent = plistlib.loads(service.text.encode())
    assert agent["ProgramArguments"] == ["/py", "-m", "turnout", "proxy"] and agent["RunAtLoad"] is True
    assert agent["ExitTimeOut"] == 40
    assert service.start == (("launchctl", "bootstrap", "gui/501", str(service.path)),)
    with pytest.raises(ValueError, match="systemd"):
        service_for("win32", [], home=tmp_path, config_home=tmp_path, uid=0, grace=1, log=tmp_path)


def test_a_failing_systemctl_is_one_line(systemctl: Path, tmp_path: Path) -> None:
    (tmp_path / "bin" / "systemctl").write_text('#!/bin/sh\necho "Failed to connect to bus" >&2\nexit 1\n')
    result = runner.invoke(app, ["service", "install"])
    assert (
        result.exit_code == 1
        and "Failed to connect to bus" in result.output
        and "Traceback" not in result.output
    )
    assert "nothing was installed" in result.output
    assert not (tmp_path / "xdg" / "systemd" / "user" / "turnout.service").exists()
