"""What each tool is given to reach turnout; the shell form evaluates to the same."""

from __future__ import annotations

import subprocess

from turnout.core.launchers import CLAUDE_MODEL_VARS, launch_for, shell_lines

URL = "http://127.0.0.1:3456"


def _routes(*names: str):  # type: ignore[no-untyped-def]
    return lambda name: name in names or (name.startswith("claude-") and "claude-*" in names)


def test_claude_gets_the_base_url_a_token_and_models_only_when_its_own_do_not_route() -> None:
    routed = launch_for("claude", ["-p", "hi"], url=URL, key="k", routes=_routes("claude-*"), fallback="x")
    assert routed.argv == ("claude", "-p", "hi")
    assert routed.env == {"ANTHROPIC_BASE_URL": URL, "ANTHROPIC_AUTH_TOKEN": "k"} and not routed.notes
    local = launch_for("claude", [], url=URL, key="k", routes=_routes(), fallback="qwen3:8b")
    assert all(local.env[v] == "qwen3:8b" for v in CLAUDE_MODEL_VARS)  # the background model too
    assert "qwen3:8b" in local.notes[0]
    assert local.environ({"ANTHROPIC_API_KEY": "sk-real", "HOME": "/h"}) == {"HOME": "/h", **local.env}
    nothing = launch_for("claude", [], url=URL, key="k", routes=_routes(), fallback=None)
    assert "ANTHROPIC_MODEL" not in nothing.env and "--model" in nothing.notes[0]


def test_codex_gets_a_responses_provider_through_config_overrides() -> None:
    launch = launch_for("codex", ["exec", "do it"], url=URL, key="k", routes=_routes(), fallback="m")
    assert launch.argv[0] == "codex" and launch.argv[-2:] == ("exec", "do it")
    flags = launch.flags
    assert 'model_providers.turnout.wire_api="responses"' in flags
    assert f'model_providers.turnout.base_url="{URL}/v1"' in flags and 'model="m"' in flags
    assert launch.env == {"TURNOUT_API_KEY": "k"}


def test_gemini_aider_and_any_other_tool() -> None:
    gemini = launch_for("gemini", [], url=URL, key="k", routes=_routes("gemini-2.5-pro"), fallback="m")
    assert gemini.env == {"GOOGLE_GEMINI_BASE_URL": URL, "GEMINI_API_KEY": "k"} and gemini.unset == (
        "GOOGLE_API_KEY",
    )
    aider = launch_for("aider", [], url=URL, key="k", routes=_routes(), fallback=None, model="m")
    assert aider.env["OPENAI_API_BASE"] == f"{URL}/v1" and aider.env["AIDER_MODEL"] == "openai/m"
    other = launch_for("my-tool", [], url=URL, key="k", routes=_routes(), fallback=None)
    assert other.env["OPENAI_BASE_URL"] == f"{URL}/v1" and other.env["ANTHROPIC_BASE_URL"] == URL


def test_the_shell_form_sets_the_same_values_even_with_quotes() -> None:
    launch = launch_for("codex", [], url=URL, key='it\'s "odd"', routes=_routes(), fallback="a b")
    script = shell_lines(launch, "codex") + '\nprintf "%s\\n" "$TURNOUT_API_KEY"\nalias codex'
    shown = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
    assert shown.splitlines()[0] == 'it\'s "odd"'
    assert 'model="a b"' in shown and "wire_api" in shown
