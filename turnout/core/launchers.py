"""How each coding tool is pointed at turnout: the variables and flags it reads.

``turnout run <tool>`` starts the tool with these; ``turnout env <tool>`` prints them for
a shell. Nothing here disguises a tool as another or touches what a provider sees: the
tool talks to turnout in its own dialect, with turnout's local key (or a placeholder).

- Claude Code: ``ANTHROPIC_BASE_URL`` and ``ANTHROPIC_AUTH_TOKEN``; when the config does
  not route Claude's own model names, the model variables name one it does route, so
  the main model and the background (Haiku-class) requests both land somewhere.
- Codex CLI: a ``turnout`` provider given with ``-c`` overrides (``wire_api =
  "responses"``), its key in ``TURNOUT_API_KEY``.
- Gemini CLI: ``GOOGLE_GEMINI_BASE_URL`` and ``GEMINI_API_KEY``.
- aider, and any other tool: the OpenAI variables (``OPENAI_BASE_URL`` and
  ``OPENAI_API_BASE``, with ``/v1``), the Anthropic and Gemini ones too.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["KNOWN_TOOLS", "Launch", "launch_for", "shell_lines"]

CLAUDE_MODEL_VARS = (
    "ANTHROPIC_MODEL",
    "ANTHROPIC_DEFAULT_OPUS_MODEL",
    "ANTHROPIC_DEFAULT_SONNET_MODEL",
    "ANTHROPIC_DEFAULT_HAIKU_MODEL",
    "ANTHROPIC_SMALL_FAST_MODEL",  # older Claude Code's background model
    "CLAUDE_CODE_SUBAGENT_MODEL",
)
CLAUDE_NAMES = ("claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5")  # what it asks for by default
CODEX_NAMES = ("gpt-5.5", "gpt-5")
GEMINI_NAMES = ("gemini-2.5-pro", "gemini-2.5-flash")


@dataclass(frozen=True)
class Launch:
    argv: tuple[str, ...]  # the command to run: the tool, turnout's flags, then the user's
    env: dict[str, str]  # variables to set
    flags: tuple[str, ...] = ()  # turnout's flags alone (for ``turnout env``'s alias)
    notes: list[str] = field(default_factory=list)  # said to the user (e.g. the model chosen)
    unset: tuple[str, ...] = ()  # variables that would take precedence over turnout's (a real key)

    def environ(self, base: Mapping[str, str]) -> dict[str, str]:
        """``base`` (the user's environment) as the tool gets it."""
        env = {k: v for k, v in base.items() if k not in self.unset}
        env.update(self.env)
        return env


def _openai_env(url: str, key: str) -> dict[str, str]:
    return {"OPENAI_BASE_URL": f"{url}/v1", "OPENAI_API_BASE": f"{url}/v1", "OPENAI_API_KEY": key}


def _everything_env(url: str, key: str) -> dict[str, str]:
    return {
        **_openai_env(url, key),
        "ANTHROPIC_BASE_URL": url,
        "ANTHROPIC_API_KEY": key,
        "GOOGLE_GEMINI_BASE_URL": url,
        "GEMINI_API_KEY": key,
    }


def _pick(
    routes: Callable[[str], bool],
    names: Sequence[str],
    model: str | None,
    fallback: str | None,
    notes: list[str],
) -> str | None:
    """The model to name: the user's, else none when the tool's own names route, else
    ``fallback`` (said in ``notes``)."""
    if model:
        return model
    if all(routes(n) for n in names):
        return None
    if fallback is None:
        notes.append(f"no route for {names[0]} and no model to use instead: pass --model, or add a backend")
    else:
        notes.append(f"{names[0]} has no route here; the tool will use {fallback!r} (--model to choose)")
    return fallback


def launch_for(
    tool: str,
    args: Sequence[str],
    *,
    url: str,
    key: str,
    routes: Callable[[str], bool],
    fallback: str | None,
    model: str | None = None,
) -> Launch:
    """How to run ``tool`` (with ``args``) against turnout at ``url`` with local key ``key``.

    ``routes(name)`` says whether the config routes a model name; ``fallback`` is a model
    it does route, for tools whose own model names it does not."""
    name = tool.rsplit("/", 1)[-1]
    notes: list[str] = []
    if name == "claude":
        env = {"ANTHROPIC_BASE_URL": url, "ANTHROPIC_AUTH_TOKEN": key}
        if chosen := _pick(routes, CLAUDE_NAMES, model, fallback, notes):
            env.update(dict.fromkeys(CLAUDE_MODEL_VARS, chosen))  # the main model and the background one
        return Launch((tool, *args), env, notes=notes, unset=("ANTHROPIC_API_KEY",))
    if name == "codex":
        flags = [
            "-c",
            'model_provider="turnout"',
            "-c",
            'model_providers.turnout.name="turnout"',
            "-c",
            f"model_providers.turnout.base_url={_toml_string(url + '/v1')}",
            "-c",
            'model_providers.turnout.env_key="TURNOUT_API_KEY"',
            "-c",
            'model_providers.turnout.wire_api="responses"',
        ]
        if chosen := _pick(routes, CODEX_NAMES[:1], model, fallback, notes):
            flags += ["-c", f"model={_toml_string(chosen)}"]
        # Codex takes config overrides before its subcommand (exec, …) and after it alike.
        return Launch((tool, *flags, *args), {"TURNOUT_API_KEY": key}, tuple(flags), notes)
    if name == "gemini":
        env = {"GOOGLE_GEMINI_BASE_URL": url, "GEMINI_API_KEY": key}
        if chosen := _pick(routes, GEMINI_NAMES[:1], model, fallback, notes):
            env["GEMINI_MODEL"] = chosen
        return Launch((tool, *args), env, notes=notes, unset=("GOOGLE_API_KEY",))
    if name == "aider":
        env = _openai_env(url, key)
        if model:
            env["AIDER_MODEL"] = f"openai/{model}"  # aider (litellm): the OpenAI-compatible base above
        return Launch((tool, *args), env, notes=notes)
    return Launch((tool, *args), _everything_env(url, key), notes=notes)


def _toml_string(value: str) -> str:
    """A TOML basic string (Codex parses ``-c`` values as TOML)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


KNOWN_TOOLS = ("claude", "codex", "gemini", "aider")


def shell_lines(launch: Launch, tool: str) -> str:
    """``export`` lines for a POSIX shell (and an alias carrying Codex's flags)."""
    lines = [f"unset {name}" for name in launch.unset]
    lines += [f"export {k}={shlex.quote(v)}" for k, v in launch.env.items()]
    if launch.flags:
        lines.append(f"alias {tool}={shlex.quote(shlex.join([tool, *launch.flags]))}")
    return "\n".join(lines)
