"""Another provider's opaque reasoning, kept by a client that cannot read it.

An Anthropic thinking signature (or redacted thinking) given to a Responses or Gemini
client travels inside a field the client keeps opaque and sends back (a reasoning item's
``encrypted_content``, a thought part's ``thoughtSignature``), sealed as
``turnout1.<base64 JSON>`` with its origin. Coming back, it is unsealed and goes to its
issuer again on the next turn (tool loops with thinking require it) and nowhere else. A
value the client's own provider issued is not sealed: it is already opaque to others.
"""

from __future__ import annotations

import base64
import binascii

import orjson

from turnout.core.hub.conversation import Origin, Reasoning

__all__ = ["seal", "unseal"]

_SEAL = "turnout1."


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
    return _SEAL + base64.urlsafe_b64encode(orjson.dumps(envelope)).decode()


def unseal(encrypted: str, summary: str, item_id: str | None) -> Reasoning:
    """A reasoning item a client sent back, as the hub's ``Reasoning``."""
    if encrypted.startswith(_SEAL):
        try:
            envelope = orjson.loads(base64.urlsafe_b64decode(encrypted[len(_SEAL) :]))
        except (binascii.Error, ValueError, orjson.JSONDecodeError):
            envelope = None
        if isinstance(envelope, dict) and envelope.get("o") in ("anthropic", "gemini"):
            text = envelope.get("t")
            signature, data = envelope.get("s"), envelope.get("e")
            return Reasoning(
                text if isinstance(text, str) else "",
                envelope["o"],
                signature=signature if isinstance(signature, str) else None,
                encrypted=data if isinstance(data, str) else None,
                id=item_id,
            )
        return Reasoning(summary, id=item_id)  # a damaged seal: the readable part only
    return Reasoning(summary, "openai", encrypted=encrypted or None, id=item_id)
