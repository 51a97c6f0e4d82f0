"""The hub: one typed representation of a conversation, an answer and a stream event, and
for each API a reader into it and a writer out of it (four APIs: eight translators
a side, not twelve pairwise ones).

- ``conversation``: a request (system, turns of parts, tools, settings);
- ``answer``: a whole answer, its usage, and the events a stream is made of;
- ``<api>_request``: that API's requests, read in (from a client) and written out (for a
  backend); ``<api>_answer``: answers written for a client, whole and streamed (the
  Responses stream in ``responses_stream``); ``<api>_upstream``: a backend's answers read
  back, whole and streamed. The APIs: ``messages`` (Anthropic), ``chat`` (OpenAI Chat
  Completions), ``responses`` (OpenAI Responses), ``gemini`` (Gemini's native API);
- ``through``: which reader and writer a translation uses; ``stream``: a reader and a
  writer joined as one stream translator; ``tools``, ``fitting``, ``seal``: what several
  writers share (freeform and namespaced tools, what a backend can take, opaque values).

Opaque provider data (an Anthropic thinking signature, an OpenAI encrypted reasoning
item, a Gemini thought signature) rides in the hub tagged with its ``origin`` and is
written back only to that provider (``seal.py``); elsewhere it is dropped.
"""
