"""Secrets in a request replaced by placeholders before it leaves for a remote backend.

Coding agents paste whatever they read into prompts (``.env`` files, key files, shell
history). For a backend whose ``scrub`` policy is ``redact`` (the default for remote
ones), every secret ``core/secrets.py`` finds in any string of the request — system
prompt, messages, tool calls, tool results, in every dialect — becomes a placeholder
naming its kind and an index, ``[[secret:aws_access_key:1]]``; the same value is always
the same placeholder within a conversation, so the model can refer to it, and
``core/restore.py`` turns placeholders in the answer back into the real values before
the client sees them (an agent can still write the key into a file it edits). ``block``
refuses the request instead, naming the kinds found, never the values.

The mapping lives only here, in memory: one ``Vault`` per conversation (recognised by
the client's session header or its first message, so every turn of an agent's session
meets the same one), bounded and expiring; never on disk, in logs, analytics or flows.

Cost: the request's bytes are searched once (``Scanner.scan``), and only past what they
share with a body searched before (``SeenBodies``: an agent resends its history); a body
with no finding is sent untouched. Tokens found are spliced into the bytes; only a body
whose secrets need it (escaped text such as a key block, an occurrence near an opaque
value or reasoning, the user's own patterns) is walked string by string.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Any

import ahocorasick_rs
import orjson

from turnout.core.body import escaped_quote
from turnout.core.errors import BadRequest
from turnout.core.headers import Fields, header_value
from turnout.core.secrets import Finding, Scanner

__all__ = [
    "PLACEHOLDER",
    "Scrubbed",
    "SecretsFound",
    "SeenBodies",
    "Vault",
    "Vaults",
    "conversation_key",
    "scrub",
]

PLACEHOLDER = re.compile(r"\[\[secret:([a-z0-9_]{1,40}):(\d{1,6})\]\]")
# Opaque values, never text: images and files, signatures, encrypted reasoning.
_OPAQUE_KEYS = frozenset({"data", "signature", "thoughtSignature", "thought_signature", "encrypted_content"})
_SESSION_HEADERS = (b"x-claude-code-session-id", b"session_id", b"session-id", b"conversation_id")
_KEY_BYTES = 16 * 1024  # of the first message: enough to tell conversations apart
_FIRST = {"messages": "messages", "chat": "messages", "responses": "input", "gemini": "contents"}


class SecretsFound(BadRequest):
    """``scrub: block``: the request holds secrets and the backend may not see them."""


class Vault:
    """One conversation's secrets: each value's placeholder, and each placeholder's value."""

    LIMIT = 1024  # distinct secrets in one conversation

    def __init__(self) -> None:
        self._placeholders: dict[str, str] = {}  # value → placeholder
        self.values: dict[str, str] = {}  # placeholder → value
        self._counts: Counter[str] = Counter()
        self.size = 0  # bytes of values held
        self.used = time.monotonic()

    def placeholder(self, kind: str, value: str) -> str:
        if (known := self._placeholders.get(value)) is not None:
            return known
        if len(self.values) >= self.LIMIT:
            raise SecretsFound(
                f"This conversation holds more than {self.LIMIT} distinct secrets; turnout will not send "
                "more of them (scrub: off on the backend lets it through unredacted)."
            )
        self._counts[kind] += 1
        made = f"[[secret:{kind}:{self._counts[kind]}]]"
        self._placeholders[value], self.values[made] = made, value
        self.size += len(value)
        return made


class Vaults:
    """Every conversation's vault, the least recently used dropped first, and any unused
    for ``ttl`` seconds; at most ``conversations`` of them and ``max_bytes`` of secrets."""

    def __init__(self, conversations: int = 512, max_bytes: int = 16 << 20, ttl: float = 6 * 3600) -> None:
        self.conversations, self.max_bytes, self.ttl = conversations, max_bytes, ttl
        self._vaults: OrderedDict[bytes, Vault] = OrderedDict()

    def __len__(self) -> int:
        return len(self._vaults)

    def get(self, key: bytes) -> Vault:
        now = time.monotonic()
        vault = self._vaults.pop(key, None)
        if vault is None or now - vault.used > self.ttl:
            vault = Vault()
        vault.used = now
        self._vaults[key] = vault
        self._trim(now)
        return vault

    def _trim(self, now: float) -> None:
        total = sum(v.size for v in self._vaults.values())
        while self._vaults:
            oldest_key, oldest = next(iter(self._vaults.items()))
            if (
                len(self._vaults) <= self.conversations
                and total <= self.max_bytes
                and now - oldest.used <= self.ttl
            ):
                break
            if len(self._vaults) == 1:  # the one in use stays, whatever its size
                break
            del self._vaults[oldest_key]
            total -= oldest.size


@dataclass
class Scrubbed:
    """A request with its secrets replaced."""

    raw: bytes  # to send
    kinds: Counter[str]  # secrets replaced, by kind
    vault: Vault = field(repr=False)  # where the placeholders' values are, for the answer
    parsed: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def body(self) -> dict[str, Any]:
        """``raw`` parsed (only a translation needs it: then once)."""
        if self.parsed is None:
            self.parsed = orjson.loads(self.raw)
        return self.parsed

    def release(self) -> None:
        """No attempt can follow: the bodies go; the vault stays, for the answer."""
        self.raw, self.parsed = b"", None

    @property
    def count(self) -> int:
        return sum(self.kinds.values())

    def describe(self) -> str:
        """``scrubbed 2 secrets (aws_access_key, github_token)``: kinds, never values."""
        n = self.count
        return f"scrubbed {n} secret{'s' if n != 1 else ''} ({', '.join(sorted(self.kinds))})"


def conversation_key(endpoint: str, body: dict[str, Any], fields: Fields) -> bytes:
    """What recognises a conversation from one turn to the next: the client's session
    header, else its first message (agents resend the whole history every turn)."""
    for name in _SESSION_HEADERS:
        if (session := header_value(fields, name)) is not None:
            return hashlib.sha256(b"session\0" + session).digest()
    items = body.get(_FIRST.get(endpoint, "messages"))
    first = orjson.dumps(
        items[0] if isinstance(items, list) and items else items, option=orjson.OPT_SORT_KEYS
    )
    return hashlib.sha256(b"%s\0%d\0%s" % (endpoint.encode(), len(first), first[:_KEY_BYTES])).digest()


class SeenBodies:
    """The last request bodies searched, with what was found in them. An agent resends its
    whole history every turn, so a new body mostly begins with an old one: what the two
    share was searched already (its findings are the old ones), and only what follows,
    less a margin longer than any secret and its context, is searched again."""

    CHUNK = 4096
    MARGIN = 32 * 1024  # longer than any secret a detector finds (a key block: 20,000) and its context
    CONTEXT = 512  # what decides a finding past its end (the AWS pair's 300 characters)
    KEEP = 8
    MAX_BYTES = 32 << 20

    def __init__(self) -> None:
        self._bodies: list[tuple[bytes, list[Finding]]] = []

    def start(self, raw: bytes) -> tuple[int, list[Finding]]:
        """Where ``raw`` must be searched from, and the findings before that point."""
        best, inherited = 0, []
        for old, findings in self._bodies:
            n, i = min(len(old), len(raw)), 0
            while i + self.CHUNK <= n and old[i : i + self.CHUNK] == raw[i : i + self.CHUNK]:
                i += self.CHUNK
            if i + self.CHUNK > n and old[i:n] == raw[i:n]:
                i = n
            if i == len(old) == len(raw):
                return len(raw), findings  # the same body again
            if i > best:
                best, inherited = i, [f for f in findings if f.end + self.CONTEXT <= i]
        if best <= self.MARGIN:
            return 0, []
        return best - self.MARGIN, inherited

    def remember(self, raw: bytes, findings: list[Finding]) -> None:
        if len(raw) < self.MARGIN or len(raw) > self.MAX_BYTES // self.KEEP:
            return  # small: searched whole in no time; huge: not worth its memory
        self._bodies = [(raw, findings), *(e for e in self._bodies if e[0] is not raw)][: self.KEEP]


def scrub(
    endpoint: str,
    body: dict[str, Any],
    raw: bytes,
    fields: Fields,
    scanner: Scanner,
    vaults: Vaults,
    seen: SeenBodies | None = None,
) -> Scrubbed | None:
    """``body`` with every secret replaced, or None when it holds none (sent as it came)."""
    start, findings = seen.start(raw) if seen is not None else (0, [])
    more, escaped = scanner.scan(raw, start) if start < len(raw) else ([], False)
    if more:
        known = {(f.start, f.end) for f in findings}
        findings = [*findings, *(f for f in more if (f.start, f.end) not in known)]
    if seen is not None and not escaped:
        seen.remember(raw, findings)
    if not findings and not escaped and not scanner.patterns:
        return None  # the fast path: nothing in the bytes, so nothing in any string
    targets = None if escaped or scanner.patterns else _plain_values(findings)
    if targets is not None and (places := _splice_places(raw, targets)) is not None:
        # Tokens are the same bytes in the body as in its strings: replaced in the bytes,
        # with no walk of a tree of thousands of messages.
        vault = vaults.get(conversation_key(endpoint, body, fields))
        placeholders = [_placeholders(vault, targets)[value].encode() for _, value in targets]
        pieces: list[bytes] = []
        last = 0
        for index, at, end in places:
            pieces += (raw[last:at], placeholders[index])
            last = end
        pieces.append(raw[last:])
        return Scrubbed(b"".join(pieces), Counter(kind for kind, _ in targets), vault)
    walk = _Walk(scanner, targets)
    found = walk.tree(body)
    if not walk.replaced:
        return None
    vault = vaults.get(conversation_key(endpoint, body, fields))
    out = _substitute(found, _placeholders(vault, walk.replaced))
    return Scrubbed(orjson.dumps(out), Counter(kind for kind, _ in walk.replaced), vault, out)


def _placeholders(vault: Vault, found: list[tuple[str, str]]) -> dict[str, str]:
    """Each value's placeholder, given in order of appearance: the first secret is :1."""
    return {value: vault.placeholder(kind, value) for kind, value in found}


_PROTECTED = (*sorted(_OPAQUE_KEYS), "thinking")  # and a signed thinking block's text
_WALK_ONLY = (b'"encrypted_content"', b'"thought":true', b'"thought": true')  # reasoning: the walk knows it
_STARTS = [b'"%s":%s"' % (name.encode(), sep) for name in _PROTECTED for sep in (b"", b" ")] + [b'"data:']
_MARKS = ahocorasick_rs.BytesAhoCorasick(
    [*_WALK_ONLY, *_STARTS], matchkind=ahocorasick_rs.MATCHKIND_LEFTMOST_FIRST
)


def _splice_places(raw: bytes, targets: list[tuple[str, str]]) -> list[tuple[int, int, int]] | None:
    """Where each value is in the bytes, as (its index, start, end), if replacing them there
    changes only what the walk would: none in an opaque value (an image, a signature, a
    ``data:`` URL) or a signed thinking text, none next to base64, and no reasoning in the
    body that must go back as it came (encrypted reasoning, Gemini's thoughts); else None.
    Two passes of an automaton: one for those places, one for the values."""
    ranges = []
    for index, _, end in _MARKS.find_matches_as_indexes(raw):
        if index < len(_WALK_ONLY):
            return None
        ranges.append((end, _string_end(raw, end)))
    values = ahocorasick_rs.BytesAhoCorasick(
        [value.encode() for _, value in targets], matchkind=ahocorasick_rs.MATCHKIND_LEFTMOST_LONGEST
    )
    places = values.find_matches_as_indexes(raw)
    for _, at, after in places:
        if raw[at - 1 : at] in (b"+", b"/", b"=") or raw[after : after + 1] in (b"+", b"/", b"="):
            return None  # perhaps inside base64
        if any(start <= at < stop for start, stop in ranges):
            return None
    return places


def _string_end(raw: bytes, at: int) -> int:
    """Where the JSON string whose text begins at ``at`` ends (its closing quote)."""
    quote = raw.find(b'"', at)
    while quote > 0 and escaped_quote(raw, quote):
        quote = raw.find(b'"', quote + 1)
    return quote if quote >= 0 else len(raw)


def _plain_values(findings: list[Finding]) -> list[tuple[str, str]] | None:
    """The findings' values (each once, in order) as the strings hold them, when that is
    the same at every depth of JSON (no escape in them: tokens, not key blocks); None:
    search the strings again."""
    values: dict[str, str] = {}
    for f in findings:
        if b"\\" in f.value or b'"' in f.value:
            return None
        try:
            values.setdefault(f.value.decode(), f.kind)
        except UnicodeDecodeError:
            return None
    return [(kind, value) for value, kind in values.items()]


class _Walk:
    """Find the secrets of every string of a request (in order), leaving opaque values:
    with ``targets``, the values the body's bytes showed; else by searching each string."""

    def __init__(self, scanner: Scanner, targets: list[tuple[str, str]] | None = None) -> None:
        self.scanner = scanner
        self.targets = targets
        self.replaced: list[tuple[str, str]] = []  # (kind, value), each value once
        self.marked = 0  # strings that hold secrets
        self._seen: set[str] = set()

    def tree(self, node: Any) -> Any:
        if isinstance(node, str):
            return self._text(node)
        if isinstance(node, list):
            return [self.tree(item) for item in node]
        if isinstance(node, dict):
            if node.get("thought") is True or "signature" in node or "encrypted_content" in node:
                return node  # signed model output: sent back exactly as the model wrote it
            return {k: v if k in _OPAQUE_KEYS else self._member(k, v) for k, v in node.items()}
        return node

    def _member(self, name: str, value: Any) -> Any:
        if not isinstance(value, str):
            return self.tree(value)
        if self.targets is not None:
            return self._text(value)
        if kind := self.scanner.assigned(name, value.encode("utf-8", "surrogatepass")):
            self._found(kind, value)
            self.marked += 1
            return _Marked(value, [value])
        if name == "arguments" and value[:1] in ("{", "["):  # a tool call's arguments: JSON in a string
            try:
                parsed = orjson.loads(value)
            except orjson.JSONDecodeError:
                return self._text(value)
            marked = self.marked
            tree = self.tree(parsed)
            return _Encoded(tree) if self.marked > marked else value
        return self._text(value)

    def _found(self, kind: str, value: str) -> None:
        if value not in self._seen:
            self._seen.add(value)
            self.replaced.append((kind, value))

    def _text(self, text: str) -> Any:
        if len(text) < 8 or text.startswith("data:"):
            return text
        if self.targets is not None:
            found = [(kind, value) for kind, value in self.targets if value in text]
        else:
            found = [
                (f.kind, f.value.decode("utf-8", "surrogatepass"))
                for f in self.scanner.find(text.encode("utf-8", "surrogatepass"))
            ]
        if not found:
            return text
        for kind, value in found:
            self._found(kind, value)
        self.marked += 1
        return _Marked(text, [value for _, value in found])


@dataclass
class _Marked:
    """A string holding secrets, replaced once every placeholder is known."""

    text: str
    values: list[str]


@dataclass
class _Encoded:
    """JSON held in a string (a tool call's arguments) whose values hold secrets."""

    tree: Any


def _substitute(node: Any, placeholders: dict[str, str]) -> Any:
    if isinstance(node, _Encoded):
        return orjson.dumps(_substitute(node.tree, placeholders)).decode()
    if isinstance(node, _Marked):
        text = node.text
        for value in sorted(set(node.values), key=len, reverse=True):
            text = text.replace(value, placeholders[value])
        return text
    if isinstance(node, list):
        return [_substitute(item, placeholders) for item in node]
    if isinstance(node, dict):
        return {k: _substitute(v, placeholders) for k, v in node.items()}
    return node
