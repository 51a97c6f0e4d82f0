"""Another provider's opaque reasoning, kept by a client that cannot read it.

An Anthropic thinking signature (or redacted thinking) given to a Responses or Gemini
client travels inside a field the client keeps opaque and sends back (a reasoning item's
``encrypted_content``, a thought part's ``thoughtSignature``), sealed as
base64 of ``turnout1:<JSON>`` with its origin. Coming back, it is unsealed and goes to its
issuer again on the next turn (tool loops with thinking require it) and nowhere else. A
value the client's own provider issued is not sealed: it is already opaque to others.
"""

from __future__ import annotations

import base64
import binascii

import orjson

from turnout.core.hub.conversation import Origin, Reasoning

__all__ = ["seal", "unseal"]

_SEAL = b"turnout1:"  # inside the base64: Gemini's SDKs insist thoughtSignature be base64
_SEALED = base64.b64encode(_SEAL)[:8].decode()  # how every sealed value starts


def seal(reasoning: Reasoning, native: Origin = "openai") -> str | None:
    """What a client keeps for ``reasoning`` and sends back: its opaque value, as it is
    when the client's own provider (``native``) issued it, else sealed with its origin."""
    if reasoning.origin is None:
        return None
    if reasoning.origin == native:
        return reasoning.encrypted or reasoning.signature
    if not (reasoning.signature or reasoning.encrypted):
        return None
    envelope = {
        "o": reasoning.origin,
        "t": reasoning.text,
        "s": reasoning.signature,
        "e": reasoning.encrypted,
    }
    return base64.b64encode(_SEAL + orjson.dumps(envelope)).decode()


def unseal(value: str, text: str, item_id: str | None, native: Origin = "openai") -> Reasoning:
    """An opaque value a client sent back, as the hub's ``Reasoning``: what turnout sealed,
    opened (a damaged seal keeps only the readable ``text``), else the client's own
    provider's (``native``) value, as it came."""
    if not value.startswith(_SEALED):
        if native == "openai":
            return Reasoning(text, "openai", encrypted=value or None, id=item_id)
        return Reasoning(text, native, signature=value or None, id=item_id)
    try:
        raw = base64.b64decode(value, validate=True)
        envelope = orjson.loads(raw[len(_SEAL) :]) if raw.startswith(_SEAL) else None
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        envelope = None
    if not isinstance(envelope, dict) or envelope.get("o") not in ("anthropic", "gemini", "openai"):
        return Reasoning(text, id=item_id)
    sealed_text, signature, data = envelope.get("t"), envelope.get("s"), envelope.get("e")
    return Reasoning(
        sealed_text if isinstance(sealed_text, str) else "",
        envelope["o"],
        signature=signature if isinstance(signature, str) else None,
        encrypted=data if isinstance(data, str) else None,
        id=item_id,
    )
