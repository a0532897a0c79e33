"""Twilio signature checks at one HMAC a request, through twilio's own RequestValidator."""

from __future__ import annotations

import hmac
from collections.abc import Iterator, Mapping
from urllib.parse import quote

from flask import Request
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

_PATH_SAFE = "/!$&'()*+,:;=@%"


class _Params:
    """Form values as twilio's validator reads them: `getall` is the first method it tries.

    Werkzeug's MultiDict has only `getlist`, so without this every parameter costs the
    validator an AttributeError before it finds it.
    """

    def __init__(self, values: MultiDict[str, str] | Mapping[str, str]) -> None:
        self.values = values

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)

    def getall(self, name: str) -> list[str]:
        """Return every value sent for a parameter."""
        if isinstance(self.values, MultiDict):
            return self.values.getlist(name)
        return [self.values[name]]


def valid(
    validator: RequestValidator,
    request: Request,
    params: MultiDict[str, str] | Mapping[str, str],
    signature: str,
) -> bool:
    """Tell whether Twilio signed this request.

    Twilio signs the URL exactly as it requested it, query string still percent-encoded:
    one HMAC over that settles almost every request. Only a mismatch goes on to twilio's
    full check (with and without the port) of that URL and of werkzeug's decoded one.
    """
    values = _Params(params)
    sent = _url_as_sent(request)
    expected = validator.compute_signature(sent, values)
    if hmac.compare_digest(expected.encode(), signature.encode()):
        return True
    return any(validator.validate(url, values, signature) for url in (sent, request.url))


def _url_as_sent(request: Request) -> str:
    path = quote(request.root_path + request.path, safe=_PATH_SAFE)
    query = request.query_string.decode("latin-1")
    return f"{request.scheme}://{request.host}{path}{'?' + query if query else ''}"
