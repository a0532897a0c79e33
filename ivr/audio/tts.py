"""Text to speech: text -> MP3 through gTTS. The only module that imports gTTS."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class SpeechError(Exception):
    """gTTS could not render a text. `transient` errors are worth retrying; `unreachable` means
    the service cannot be reached at all."""

    def __init__(self, message: str, transient: bool, unreachable: bool = False) -> None:
        super().__init__(message)
        self.transient = transient
        self.unreachable = unreachable


def gtts_host(settings: Mapping[str, Any]) -> str:
    """Return the Google host gTTS talks to for a language's settings."""
    return f"translate.google.{settings.get('tld', 'com')}"


def synthesize(text: str, settings: Mapping[str, Any], slow: bool = False, timeout: float = 20.0) -> bytes:
    """Render text to MP3 bytes with gTTS, using a language's settings ({lang, tld})."""
    import requests
    from gtts import gTTS, gTTSError

    lang = str(settings.get("lang", "en"))
    tld = str(settings.get("tld", "com"))
    try:
        chunks = list(gTTS(text, lang=lang, tld=tld, slow=slow, timeout=timeout).stream())
    except gTTSError as exc:
        response = exc.rsp
        status = getattr(response, "status_code", None)
        if status is None:
            raise SpeechError(f"cannot reach {gtts_host(settings)}: {exc}", True, unreachable=True) from exc
        transient = status >= 500 or status == 429
        raise SpeechError(f"{gtts_host(settings)} answered {status}: {exc}", transient) from exc
    except requests.RequestException as exc:
        raise SpeechError(f"cannot reach {gtts_host(settings)}: {exc}", True, unreachable=True) from exc
    except (AssertionError, ValueError) as exc:
        raise SpeechError(f"gTTS refused the text: {exc}", False) from exc
    audio = b"".join(chunks)
    if not audio:
        raise SpeechError(f"{gtts_host(settings)} sent no audio", True)
    return audio
