"""The hub: one typed representation of a conversation, an answer and a stream event.

Every dialect has a module that reads it into the hub and writes it out of it, so four
dialects need eight modules, not twelve pairwise translators:

- ``conversation``: a request (system, turns of parts, tools, settings);
- ``answer``: a whole answer, its usage, and the events a stream is made of;
- ``responses``: the OpenAI Responses API (requests in; answers and streams out);
- ``chat``, ``messages``: OpenAI Chat Completions and Anthropic Messages (requests out;
  answers and streams in).

Opaque provider data (an Anthropic thinking signature, an OpenAI encrypted reasoning item)
rides in the hub tagged with its ``origin`` and is written back only to that provider.
"""
