"""Blueprint /audio: prompt audio files, for Twilio's <Play> and the admin console's player."""

from __future__ import annotations

import io

from flask import Blueprint, Response, abort, send_file

from ..services import services

bp = Blueprint("audio", __name__, url_prefix="/audio")

CONTENT_TYPES = {".wav": "audio/wav", ".mp3": "audio/mpeg"}
# Names carry their content's hash, so a file under a name never changes: cache it for a year.
CACHE_CONTROL = "public, max-age=31536000, immutable"


@bp.get("/<lang>/<name>")
def serve(lang: str, name: str) -> Response:
    """Serve a file the manifest lists, whole; anything else (other paths, the manifest) is a 404.

    A listed file that is missing, or whose bytes do not match the hash in its name, is a 404 too,
    and is marked unplayable: the next TwiML speaks its prompt with <Say> instead."""
    path = f"{lang}/{name}"
    lib = services().audio
    suffix = name[name.rfind(".") :] if "." in name else ""
    if suffix not in CONTENT_TYPES or not lib.is_served(path):
        abort(404)
    data = lib.read_playable(path)  # checked against its hash: exactly the bytes served
    if data is None:
        abort(404)
    # The hash in the name is the file's ETag: If-None-Match revalidation answers 304.
    digest = name.rsplit(".", 2)[-2] if name.count(".") >= 2 else True
    response = send_file(
        io.BytesIO(data),
        mimetype=CONTENT_TYPES[suffix],
        download_name=name,
        conditional=True,
        etag=digest,
        max_age=None,
    )
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response
