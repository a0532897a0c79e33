"""Prompt audio: what plays for each prompt, how it got there, and serving it to Twilio.

Owns the library of versions and freshness (`library`), the manifest and files on disk
(`store`), checking that a file can be played (`verify`), rebuilding a lost manifest (`recover`),
gTTS (`tts`, the only module that imports gTTS), ffmpeg measuring and conversion (`sound`),
renders (`render`), publishing candidates under the caller's rules (`publishing`), checking that an
English recording says its text (`recognise`), the voice artist's script (`script`) and the /audio
blueprint (`routes`).

May import: `ivr.flow`, and the shared `ivr.services`; never `ivr.line`, `ivr.admin`, `ivr.cli`.
"""
