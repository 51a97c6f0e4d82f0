"""Well-known providers and local servers, for zero-config start.

A provider is picked up when its key variable is set; ``<PREFIX>_BASE_URL`` overrides
its URL. Local servers are picked up when they answer ``GET /v1/models`` on loopback.
"""

from __future__ import annotations

from dataclasses import dataclass

from turnout.core.models import BackendKind, Quirks

__all__ = [
    "DEFAULT_ALIASES",
    "KNOWN_NAMES",
    "KNOWN_PROVIDERS",
    "LOCAL_SERVERS",
    "KnownProvider",
    "LocalServer",
    "default_quirks",
    "known_backend",
]


@dataclass(frozen=True)
class KnownProvider:
    name: str
    kind: BackendKind
    key_env: str
    base_url: str

    @property
    def base_url_env(self) -> str:
        return self.key_env.removesuffix("_API_KEY") + "_BASE_URL"


KNOWN_PROVIDERS: tuple[KnownProvider, ...] = (
    KnownProvider("anthropic", "anthropic", "ANTHROPIC_API_KEY", "https://api.anthropic.com"),
    KnownProvider("openai", "openai", "OPENAI_API_KEY", "https://api.openai.com/v1"),
    KnownProvider("openrouter", "openai-compat", "OPENROUTER_API_KEY", "https://openrouter.ai/api/v1"),
    KnownProvider("groq", "openai-compat", "GROQ_API_KEY", "https://api.groq.com/openai/v1"),
    KnownProvider("deepseek", "openai-compat", "DEEPSEEK_API_KEY", "https://api.deepseek.com/v1"),
    KnownProvider("together", "openai-compat", "TOGETHER_API_KEY", "https://api.together.xyz/v1"),
    KnownProvider("mistral", "openai-compat", "MISTRAL_API_KEY", "https://api.mistral.ai/v1"),
    KnownProvider("fireworks", "openai-compat", "FIREWORKS_API_KEY", "https://api.fireworks.ai/inference/v1"),
    KnownProvider("xai", "openai-compat", "XAI_API_KEY", "https://api.x.ai/v1"),
    KnownProvider("cerebras", "openai-compat", "CEREBRAS_API_KEY", "https://api.cerebras.ai/v1"),
    KnownProvider(
        "gemini", "openai-compat", "GEMINI_API_KEY", "https://generativelanguage.googleapis.com/v1beta/openai"
    ),
)


@dataclass(frozen=True)
class LocalServer:
    name: str
    port: int


LOCAL_SERVERS: tuple[LocalServer, ...] = (
    LocalServer("ollama", 11434),
    LocalServer("lmstudio", 1234),
    LocalServer("llamacpp", 8080),
    LocalServer("vllm", 8000),
)


def known_backend(name: str) -> tuple[BackendKind, str] | None:
    """(kind, base URL) of a provider or local server turnout knows by ``name``."""
    for provider in KNOWN_PROVIDERS:
        if provider.name == name:
            return provider.kind, provider.base_url
    for server in LOCAL_SERVERS:
        if server.name == name:
            return "openai-compat", f"http://127.0.0.1:{server.port}/v1"
    return None


KNOWN_NAMES = tuple(p.name for p in KNOWN_PROVIDERS) + tuple(s.name for s in LOCAL_SERVERS)

# The current Claude model ids behind the short names Claude Code and people use.
# Users override or extend these under `aliases:` in the config.
DEFAULT_ALIASES: dict[str, str] = {
    "opus": "claude-opus-5-5",
    "sonnet": "claude-sonnet-5-5",
    "haiku": "claude-haiku-5-5",
}


def default_quirks(name: str, kind: BackendKind, base_url: str) -> Quirks:
    """What we know of a provider's deviations, from its name or URL."""
    where = f"{name} {base_url}".lower()
    if kind == "openai":
        return Quirks(max_tokens_param="max_completion_tokens", reasoning_field=None)
    if "deepseek" in where:
        return Quirks(max_tokens_cap=8192, reasoning_field="reasoning_content")
    if "gemini" in where or "generativelanguage" in where:
        return Quirks(clean_schema=True, reasoning_field=None)
    if "openrouter" in where:
        return Quirks(reasoning_field="reasoning")
    if "vllm" in where:
        return Quirks(reasoning_field="reasoning")
    return Quirks(reasoning_field=None)
