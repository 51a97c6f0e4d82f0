"""The README's first hour, from a fresh clone in a temp dir with a new HOME: the run
command starts the router, then the ``turnout`` command block runs exactly as written
(installing ``turnout`` onto the PATH, ``--version``, ``backend add groq`` with no URL,
``models``). Only uv's package cache is shared with this machine, as a second clone would."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _blocks_under(heading: str) -> list[str]:
    """The shell lines of the first ``sh`` block after ``heading`` (comments dropped)."""
    section = README if not heading else README.split(heading, 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, f"no sh block after {heading!r}"
    return [line.split("  #", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]


def _clone(tmp: Path) -> tuple[Path, dict[str, str]]:
    clone, home = tmp / "clone", tmp / "home"
    home.mkdir()
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    # The machine's environment (certificates, package indexes), minus anything of this
    # checkout's or of turnout's, and a new HOME.
    mine = ("XDG_", "TURNOUT_", "VIRTUAL_ENV", "UV_PROJECT", "PYTHONPATH", "PYTEST")
    env = {k: v for k, v in os.environ.items() if not k.startswith(mine)}
    venvs = [str(ROOT / ".venv"), *([os.environ["VIRTUAL_ENV"]] if "VIRTUAL_ENV" in os.environ else [])]
    path = [p for p in os.environ["PATH"].split(os.pathsep) if not p.startswith(tuple(venvs))]  # `uv run`'s
    env.update(
        PATH=os.pathsep.join([str(home / ".local" / "bin"), *path]),
        HOME=str(home),
        UV_CACHE_DIR=os.environ.get("UV_CACHE_DIR") or str(Path.home() / ".cache" / "uv"),
        UV_PYTHON_DOWNLOADS="never",
        NO_COLOR="1",
        COLUMNS="200",
    )
    return clone, env


def test_the_readme_quick_start_from_a_fresh_clone(tmp_path: Path) -> None:
    clone, env = _clone(tmp_path)
    run_line = _blocks_under("")[0]
    assert run_line.endswith("uv run turnout proxy")
    proxy = subprocess.Popen(
        ["bash", "-c", run_line],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 240  # the first run builds the environment
        while True:
            try:
                if httpx.get("http://127.0.0.1:3456/health", timeout=1).json() == {"status": "ok"}:
                    break
            except (httpx.HTTPError, ValueError):
                pass
            assert proxy.poll() is None, proxy.stdout.read() if proxy.stdout else ""
            assert time.monotonic() < deadline, "the quick start's proxy did not come up"
            time.sleep(0.3)
    finally:
        proxy.send_signal(signal.SIGINT)  # bash passes it on; uv and turnout stop
        output = proxy.communicate(timeout=30)[0]
    assert "turnout listening on http://127.0.0.1:3456" in output, output

    lines = _blocks_under("## The `turnout` command")
    assert lines[0].startswith("python3 -m uv tool install") and lines[1:] == [
        "turnout --version",
        "turnout backend add groq --key gsk_your_groq_key",
        "turnout models",
    ]
    said = {}
    for line in lines:
        result = subprocess.run(
            ["bash", "-c", line], cwd=clone, env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"
        said[line] = result.stdout + result.stderr
    assert shutil.which("turnout", path=env["PATH"]) == str(tmp_path / "home" / ".local" / "bin" / "turnout")
    assert re.fullmatch(r"turnout \d+\.\d+\.\d+\n", said["turnout --version"])
    added = said["turnout backend add groq --key gsk_your_groq_key"]
    assert "groq" in added and "gsk…_key" in added and "gsk_your_groq_key" not in added
    config = (tmp_path / "home" / ".config" / "turnout" / "config.yaml").read_text()
    assert "https://api.groq.com/openai/v1" in config  # known: filled in, not asked for
    assert "gsk_your_groq_key" not in config  # the key went to the key store
    assert "groq" in said["turnout models"]
    assert not shlex.split(lines[0])[0].startswith("/")  # nothing here is specific to this machine
