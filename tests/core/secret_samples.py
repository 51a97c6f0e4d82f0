"""One realistic (fake) secret of every kind the scrubber knows, for the tests: generated,
not real, and shaped as each issuer shapes them."""

from __future__ import annotations

import random
import string

ALNUM = string.ascii_letters + string.digits


def _mixed(s: str) -> bool:
    return any(c.isdigit() for c in s) and any(c.isupper() for c in s) and any(c.islower() for c in s)


def _r(n: int, alphabet: str = ALNUM, seed: int = 0) -> str:
    rng = random.Random(f"{n}{alphabet}{seed}")
    while True:
        s = "".join(rng.choice(alphabet) for _ in range(n))
        if not _mixed(alphabet) or _mixed(s):
            return s


PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    + "\n".join(_r(64, ALNUM + "+/", i) for i in range(6))
    + "\n-----END PRIVATE KEY-----"
)
SAMPLES: dict[str, str] = {
    "anthropic_key": "sk-ant-api03-" + _r(93, ALNUM + "-_") + "AA",
    "openai_key": "sk-proj-" + _r(120, ALNUM + "-_"),
    "openrouter_key": "sk-or-v1-" + _r(64, "0123456789abcdef"),
    "groq_key": "gsk_" + _r(52),
    "google_api_key": "AIza" + _r(35, ALNUM + "-_"),
    "xai_key": "xai-" + _r(80),
    "huggingface_token": "hf_" + _r(34),
    "aws_access_key": "AKIA" + _r(16, string.ascii_uppercase + string.digits),
    "github_token": "ghp_" + _r(36),
    "gitlab_token": "glpat-" + _r(20, ALNUM + "-_"),
    "api_key": "sk-" + _r(48),
    "slack_webhook": "T0"
    + _r(8, string.ascii_uppercase + string.digits)
    + "/B0"
    + _r(8, string.ascii_uppercase + string.digits)
    + "/"
    + _r(24),
    "slack_token": "xoxb-" + _r(12, string.digits) + "-" + _r(24),
    "stripe_key": "sk_live_" + _r(24),
    "npm_token": "npm_" + _r(36),
    "pypi_token": "pypi-AgEIcHlwaS5vcmc" + _r(60, ALNUM + "-_"),
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0." + _r(43, ALNUM + "-_"),
    "private_key": PEM,
    "azure_key": _r(86, ALNUM + "+/") + "==",
    "url_password": "Tr0ub4dor-" + _r(8),
    "secret_assignment": _r(24, ALNUM + "!#%^&*~"),
    "aws_secret_key": _r(40, ALNUM + "/+"),
}


def in_context(kind: str, value: str) -> str:
    """The secret as it appears in a file or a prompt."""
    if kind == "azure_key":
        return f"DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={value};EndpointSuffix=x.net"
    if kind == "slack_webhook":
        return f"SLACK_WEBHOOK=https://hooks.slack.com/services/{value}"
    if kind == "url_password":
        return f"DATABASE_URL=postgres://admin:{value}@db.internal:5432/app"
    if kind == "secret_assignment":
        return f'db_password = "{value}"'
    if kind == "aws_secret_key":
        return f"aws_access_key_id = {SAMPLES['aws_access_key']}\naws_secret_access_key = {value}\n"
    return value
