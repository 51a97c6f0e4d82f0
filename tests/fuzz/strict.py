"""A fake provider that refuses what a real one refuses: every body is checked before it
is answered (as Anthropic and OpenAI answer a malformed request with a 400), so a fuzzed
request that turnout rightly passes through gets the provider's 400, not a crashed fake."""

from __future__ import annotations

import asyncio
import gzip
import json
from dataclasses import dataclass

from tests.fakes.faults import FaultUpstream
from tests.fakes.upstream import Recorded
from turnout.core.dialects.validate import check_request
from turnout.core.errors import BadRequest


@dataclass
class StrictUpstream(FaultUpstream):
    async def _respond(self, rec: Recorded, writer: asyncio.StreamWriter) -> None:
        path = rec.path.split("?")[0]
        anthropic = "/messages" in path
        try:
            raw = gzip.decompress(rec.body) if rec.headers.get("content-encoding") == "gzip" else rec.body
            body = json.loads(raw)
        except (ValueError, OSError, EOFError):
            return await self._error(writer, 400, anthropic)
        gemini = ":" in path  # Gemini's API names the model in the path, not the body
        if not isinstance(body, dict) or not (gemini or isinstance(body.get("model"), str)):
            return await self._error(writer, 400, anthropic, gemini=gemini)
        if path.endswith(("/messages", "/chat/completions")):
            try:
                check_request(body, "anthropic" if anthropic else "openai")
            except BadRequest:
                return await self._error(writer, 400, anthropic)
            if not isinstance(body.get("stream", False), bool):
                return await self._error(writer, 400, anthropic)
        return await super()._respond(Recorded(rec.method, rec.path, rec.headers, raw), writer)
