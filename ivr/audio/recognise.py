"""Does a recording say its text? Which prompt of a language a recording is, heard offline.

PocketSphinx and the en-us model its wheel bundles decode the recording against a closed set: the
language's own prompt texts as one grammar. Open transcription does not work on this audio (the
999 advice came back as "and ah and my old are you going"), but choosing among the prompts does.
Only English has a model; every other language is `supported=False`: the duration rule alone.

The decoder always names some sentence of the grammar, so a name alone proves nothing: a match is
`confident` only when it is a whole text and its words account for the speech (`coverage`, the
share of loud frames that fall inside words rather than silence). A wrong sentence wins only by
calling most of the speech silence, and that is what coverage sees. Telephony files are 8 kHz;
they are upsampled to the model's 16 kHz (benchmarks/bench_recognise.py measures what that costs).
"""

from __future__ import annotations

import array
import math
import operator
import re
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from ..flow import Flow
from . import sound

MAX_SECONDS = 60.0  # longer audio is not decoded: no prompt is that long, and decoding costs time
DECODE_SECONDS = 30.0  # wall-clock limit on ffmpeg's decoding of a file to samples
RATE = 16000  # the en-us acoustic model's sample rate
FRAME = RATE // 100  # the decoder's frame step: 10 ms
# Resampled in floating point, then dithered to 16 bits: digital silence (exact zeros) confuses the
# decoder's features, and ffmpeg's dither, unlike the decoder's own, is the same on every run.
RESAMPLE = f"aresample={RATE}:internal_sample_fmt=fltp:dither_method=triangular"
MIN_COVERAGE = 0.75  # share of the loud frames a confident match must explain with words
LOUD_BELOW_PEAK_DB = 30.0  # a frame this far below the loudest frames is quiet (a pause)
QUIET_DBFS = -50.0  # and any frame quieter than this is quiet, however quiet the whole file
# Wide beams: with the default ones the right sentence of a 70-sentence grammar is often pruned.
DECODER_CONFIG: Mapping[str, Any] = {
    "beam": 1e-120,
    "wbeam": 1e-100,
    "pbeam": 1e-120,
    "maxhmmpf": -1,
    "bestpath": False,  # the lattice's best path can end in a silence that skips the grammar
    "fsgusefiller": False,  # fillers such as [SPEECH] would swallow words; silence is added below
    "dither": False,  # done by ffmpeg (RESAMPLE), the same on every run
    "loglevel": "FATAL",
}
SILENCE_PROBABILITY = 0.005  # of a pause between two words (the decoder's default)
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
TEENS = (
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
)
TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
# How British speakers say words that the American dictionary has only the American way. The
# service's own name is in several prompts, and "DER-bee-shire" is not how staff will read it.
BRITISH = {
    "derby": ("D AA B IY",),
    "derbyshire": ("D AA B IY SH ER", "D AA B IH SH ER"),
}
WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")

OK = "ok"
MISMATCH = "mismatch"
UNCLEAR = "unclear"
UNSUPPORTED = "unsupported"


@dataclass(frozen=True)
class Match:
    """Which prompt a recording is: the best text's prompt, the words heard, and how sure."""

    prompt_id: str | None
    heard: str
    confident: bool
    supported: bool = True
    prompt_ids: tuple[str, ...] = ()  # every prompt whose text is what was heard (texts can repeat)
    prefix: bool = False  # only the start of the prompt's text was heard
    coverage: float = 0.0  # share of the speech that the words heard account for
    reason: str = ""  # why the match is not confident, in words staff understand


@dataclass(frozen=True)
class Verdict:
    """Whether a candidate recording of a prompt says that prompt's text."""

    prompt_id: str
    outcome: str  # ok | mismatch | unclear | unsupported
    heard: str
    other: str | None = None  # the prompt heard instead (a mismatch)
    reason: str = ""

    @property
    def ok(self) -> bool:
        """Tell whether the recording was heard to say its own prompt's text."""
        return self.outcome == OK


class _Unusable(Exception):
    """A file that cannot be decoded for recognition; the message says why."""


def supported(lang: str) -> bool:
    """Tell whether recordings in a language can be checked (English only: the bundled model)."""
    return lang.lower().split("-")[0] == "en"


def safety_critical_needs_match(flow: Flow, prompt_id: str) -> bool:
    """Tell whether a prompt's recording must be heard to say its text before it is published.

    The 999 advice, the safe answer, and what the line says when a global key transfers the caller
    (Refuge) and when that transfer is not answered: a wrong recording there can cost a life.
    """
    if prompt_id == flow.emergency_prompt or prompt_id in flow.safe_say:
        return True
    for key in flow.global_keys.values():
        node = flow.nodes.get(key.node or "")
        if key.action == "goto" and node is not None and node.kind == "transfer":
            if prompt_id in node.say or prompt_id in node.failed_say:
                return True
    return False


def identify(flow: Flow, lang: str, wav_path: Path) -> Match:
    """Decode a recording against every prompt text of its language; return the best match."""
    if not supported(lang):
        return Match(None, "", False, supported=False, reason=f"no offline recogniser for {lang}")
    texts = spoken_texts(flow, lang)
    try:
        samples = _samples(Path(wav_path))
    except _Unusable as exc:
        return Match(None, "", False, reason=str(exc))
    loud = _loud_frames(samples)
    if not loud:
        return Match(None, "", False, reason="no speech was heard")
    recogniser = _recogniser(lang, tuple(sorted(set(texts.values()))))
    heard, words = recogniser.decode(samples)
    coverage = len(loud & words) / len(loud)
    exact = tuple(pid for pid, text in texts.items() if heard and text == heard)
    if exact:
        confident = coverage >= MIN_COVERAGE
        reason = "" if confident else f"the words heard account for {coverage:.0%} of the speech only"
        return Match(exact[0], heard, confident, prompt_ids=exact, coverage=coverage, reason=reason)
    longer = {text for text in texts.values() if heard and text.startswith(heard + " ")}
    if len(longer) == 1:
        (text,) = longer
        ids = tuple(pid for pid, t in texts.items() if t == text)
        reason = "only the start of the text was heard"
        return Match(ids[0], heard, False, prompt_ids=ids, prefix=True, coverage=coverage, reason=reason)
    reason = "no prompt's words were heard" if not heard else "the words heard start several prompts"
    return Match(None, heard, False, coverage=coverage, reason=reason)


def check(flow: Flow, lang: str, prompt_id: str, wav_path: Path) -> Verdict:
    """Tell whether a candidate recording of a prompt says its text, another prompt's, or is unclear."""
    if not flow.catalogue.has(prompt_id, lang):
        raise ValueError(f"prompt {prompt_id!r} has no text in {lang}")
    found = identify(flow, lang, wav_path)
    if not found.supported:
        return Verdict(prompt_id, UNSUPPORTED, "", reason=found.reason)
    if found.confident and prompt_id in found.prompt_ids:
        return Verdict(prompt_id, OK, found.heard)
    if found.confident:
        reason = f"it says the text of {found.prompt_id!r}"
        return Verdict(prompt_id, MISMATCH, found.heard, other=found.prompt_id, reason=reason)
    reason = found.reason
    if found.prompt_id is not None and prompt_id not in found.prompt_ids:
        reason += f" (closest: {found.prompt_id!r})"
    return Verdict(prompt_id, UNCLEAR, found.heard, other=None, reason=reason)


def spoken_texts(flow: Flow, lang: str) -> dict[str, str]:
    """Return each prompt's text as the recogniser hears it: known words, lower case, numbers said.

    A text with no word the dictionary knows is left out: nothing could be heard to say it.
    """
    known = _lexicon()
    found = {
        pid: " ".join(words(flow.catalogue.text(pid, lang), known))
        for pid in flow.catalogue.languages[lang].texts
    }
    return {pid: text for pid, text in found.items() if text}


def words(text: str, known: frozenset[str]) -> list[str]:
    """Return a text's words as the dictionary spells them; numbers said, unknown words mapped or dropped."""
    found: list[str] = []
    for token in WORD.findall(text.lower().replace("\u2019", "'")):
        if token.isascii() and token.isdigit():
            found += number_words(token)
        elif token in known:
            found.append(token)
        else:
            found += _known_parts(token, known)
    return found


def number_words(digits: str) -> list[str]:
    """Return a number as it is said: one digit as its word, up to 9999 as a number, longer digit by digit."""
    if len(digits) == 1 or len(digits) > 4 or digits.startswith("0"):
        return [DIGITS[int(d)] for d in digits]
    value = int(digits)
    said: list[str] = []
    if value >= 1000:
        said += [DIGITS[value // 1000], "thousand"]
        value %= 1000
    if value >= 100:
        said += [DIGITS[value // 100], "hundred"]
        value %= 100
    if value and said:
        said.append("and")
    if value >= 20:
        said.append(TENS[value // 10])
        value %= 10
    if 10 <= value < 20:
        said.append(TEENS[value - 10])
    elif value:
        said.append(DIGITS[value])
    return said


def _known_parts(token: str, known: frozenset[str]) -> list[str]:
    """Map a word the dictionary lacks to words it has: a possessive to its noun, a compound to its parts."""
    base = re.sub(r"'s?$", "", token)
    if base in known:
        return [base]
    splits = [(token[:i], token[i:]) for i in range(3, len(token) - 2)]
    splits = [(a, b) for a, b in splits if a in known and b in known]
    if splits:  # the most even split: 'helpline' -> 'help line', 'crimestoppers' -> 'crimes toppers'
        a, b = max(splits, key=lambda s: min(len(s[0]), len(s[1])))
        return [a, b]
    return []  # not a word the model can hear: the words around it still place the text


@cache
def _model() -> tuple[Path, Path]:
    """Return the bundled en-us acoustic model and its pronunciation dictionary."""
    import pocketsphinx

    root = Path(pocketsphinx.get_model_path()) / "en-us"
    return root / "en-us", root / "cmudict-en-us.dict"


@cache
def _lexicon() -> frozenset[str]:
    """Return every word the bundled dictionary can pronounce."""
    known: set[str] = set()
    with _model()[1].open(encoding="utf-8") as lines:
        for line in lines:
            known.add(line.split(" ", 1)[0].split("(", 1)[0])
    return frozenset(known)


class _Recogniser:
    """A decoder whose grammar is a set of texts: one path of words from start to end for each."""

    def __init__(self, texts: tuple[str, ...]) -> None:
        import pocketsphinx

        hmm, dictionary = _model()
        self._decoder = pocketsphinx.Decoder(hmm=str(hmm), dict=str(dictionary), lm=None, **DECODER_CONFIG)
        self._lock = threading.Lock()  # a decoder holds one utterance at a time
        for word, pronunciations in BRITISH.items():
            n = 2  # alternatives are word(2), word(3)...: after any the dictionary has
            for phones in pronunciations:
                while self._decoder.lookup_word(f"{word}({n})") is not None:
                    n += 1
                self._decoder.add_word(f"{word}({n})", phones, False)
        transitions: list[tuple[int, int, float, str]] = []
        start, end, fresh = 0, 1, 2
        for text in texts:
            state = start
            spoken = text.split()
            for i, word in enumerate(spoken):
                target = end
                if i < len(spoken) - 1:
                    target, fresh = fresh, fresh + 1
                transitions.append((state, target, 1.0 / len(texts) if i == 0 else 1.0, word))
                state = target
        if transitions:
            grammar = self._decoder.create_fsg("prompts", start, end, transitions)
            # A pause may come anywhere, as readers pause (only silence: a filler such as [SPEECH]
            # would swallow words). Coverage catches a silence that swallows words all the same.
            grammar.add_silence("<sil>", -1, SILENCE_PROBABILITY)
            self._decoder.add_fsg("prompts", grammar)
            self._decoder.activate_search("prompts")
        self._empty = not transitions

    def decode(self, samples: bytes) -> tuple[str, set[int]]:
        """Return the text heard (empty if none) and the frames its words span."""
        if self._empty:
            return "", set()
        with self._lock:
            # Fresh noise and cepstral-mean estimates: what one file hears must not depend on the last.
            self._decoder.reinit_feat()
            self._decoder.start_utt()
            self._decoder.process_raw(samples, full_utt=True)
            self._decoder.end_utt()
            found = self._decoder.hyp()
            segments = list(self._decoder.seg() or [])
        frames: set[int] = set()
        for segment in segments:
            if not segment.word.startswith(("<", "[")):
                frames.update(range(segment.start_frame, segment.end_frame + 1))
        return (found.hypstr if found is not None else "").strip(), frames


@lru_cache(maxsize=8)
def _recogniser(lang: str, texts: tuple[str, ...]) -> _Recogniser:
    """Return the decoder for a language's set of texts, built once (a catalogue changes rarely)."""
    return _Recogniser(texts)


def _samples(path: Path) -> bytes:
    """Decode a file to 16 kHz 16-bit mono samples; _Unusable if it cannot be or lasts too long."""
    limit = MAX_SECONDS + 1.0  # read no more than this: enough to know the file is too long
    args = [sound.ffmpeg(), "-nostdin", "-hide_banner", "-loglevel", "error", "-t", f"{limit}"]
    args += ["-i", str(path), "-map", "0:a:0", "-vn", "-ac", "1", "-af", RESAMPLE, "-f", "s16le", "-"]
    try:
        done = subprocess.run(args, capture_output=True, timeout=DECODE_SECONDS, check=False)
    except subprocess.TimeoutExpired as exc:
        raise _Unusable("the file took too long to decode") from exc
    if done.returncode != 0:
        raise _Unusable("the file cannot be decoded as audio")
    if len(done.stdout) > MAX_SECONDS * RATE * 2:
        raise _Unusable(f"the recording lasts more than {MAX_SECONDS:.0f} seconds: not decoded")
    return done.stdout


def _loud_frames(samples: bytes) -> set[int]:
    """Return the 10 ms frames loud enough to be speech: near the loudest, and not near silence."""
    values = array.array("h")
    values.frombytes(samples[: len(samples) // 2 * 2])
    if sys.byteorder == "big":  # the samples are little-endian (s16le)
        values.byteswap()
    levels: list[float] = []
    for start in range(0, len(values) - FRAME + 1, FRAME):
        chunk = values[start : start + FRAME]
        power = sum(map(operator.mul, chunk, chunk)) / FRAME
        levels.append(10 * math.log10(power / 32768**2 + 1e-12))
    if not levels:
        return set()
    peak = sorted(levels)[int(len(levels) * 0.95)]  # the loud end, not one click
    floor = max(peak - LOUD_BELOW_PEAK_DB, QUIET_DBFS)
    return {i for i, level in enumerate(levels) if level > floor}
