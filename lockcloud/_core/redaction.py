"""What never reaches a log line: the refresh token in the refresh call's path, a storage URL's signed query.

httpx logs each request URL at INFO; the filter installed here (at import, for every httpx client in the process,
since requests signed with ``TuyaAuth`` on a plain httpx client are logged too) cuts both from the record.
"""

from __future__ import annotations

import logging
import re

import httpx

__all__ = ["install_httpx_redaction", "redact_path"]

_REFRESH_IN_PATH = re.compile(r"(/v1\.0/token/)[^/?\s\"]+")


def redact_path(text: str) -> str:
    """Hide the refresh token that Tuya puts in the refresh call's path."""
    if "/v1.0/token/" not in text:
        return text  # nothing to hide: the pattern cannot match (every call's path passes here)
    return _REFRESH_IN_PATH.sub(r"\1<redacted>", text)


class _RedactURLs(logging.Filter):
    """httpx logs each request URL at INFO: the refresh call's path holds a refresh token, and a media download's
    query may hold signed storage credentials. Both are cut from the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(_redact_log_arg(arg) for arg in record.args)
        return True


_OPENAPI_PATH = re.compile(r"^/v\d+\.\d+/")


def _redact_log_arg(arg: object) -> object:
    if isinstance(arg, httpx.URL):
        # OpenAPI queries hold nothing secret; any other URL (a storage download) keeps only its path.
        if arg.query and not _OPENAPI_PATH.match(arg.path):
            arg = arg.copy_with(query=None)
        return redact_path(str(arg))
    if isinstance(arg, str):
        return redact_path(arg)
    return arg


def install_httpx_redaction() -> None:
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactURLs) for f in httpx_logger.filters):
        httpx_logger.addFilter(_RedactURLs())


# At import, not per client: requests signed with TuyaAuth on a plain httpx client are logged by httpx too.
install_httpx_redaction()
