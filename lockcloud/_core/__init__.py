"""The core layer: everything a call needs on its way to Tuya and back, and nothing about any lock API.

Wire vocabulary (:mod:`.wire`), the exception tree (:mod:`.errors`), argument checks (:mod:`.validation`), the
cattrs converter (:mod:`.converter`), the server clock (:mod:`.clock`), signing (:mod:`.signing`), the envelope
(:mod:`.envelope`), the auth flow (:mod:`.auth`), tokens and their stores (:mod:`.tokens`,
:mod:`.redis_tokens`), retry and pacing (:mod:`.retry`, :mod:`.rate_limit`), the transport (:mod:`.transport`)
over its connection pool (:mod:`.aiohttp_pool`), media downloads (:mod:`.media`), log redaction
(:mod:`.redaction`), the loopback rule (:mod:`.network`) and the ASGI helpers (:mod:`.asgi`).

Nothing here imports the resources, the event stream, the simulator or the command line.
"""
