"""Publishing prompt audio: a candidate goes live only when the caller's rules pass with it in place.

Every change staff make (an upload, a browser recording, an import, a render, a rollback) makes a
candidate version that plays nowhere. `judge` measures it and runs the same rules `ivr check` runs,
with the candidate in place of the live audio; `publish` makes it live only if nothing breaks, and,
for a prompt that keeps callers safe, only with an admin's approval of a staff member's change.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..checks import verdict
from ..flow import Flow
from ..flow.queries import advice_end, language_node, opening, speech_seconds
from . import recognise, sound
from .library import AudioLibrary, PromptAudio, now_iso
from .store import AudioError, key_of

LOUDNESS_TOLERANCE = 3.0  # LU either side of the target loudness
LOUDNESS_MIN_SECONDS = 3.0  # shorter files are not judged on their integrated loudness
MAX_LEADING_SILENCE = 0.75  # seconds of silence before the first word
MAX_TRAILING_SILENCE = 1.5  # seconds after the last
SILENCE = 0.0056  # -45 dBFS: quieter than this is silence
MAX_CLIPPED = 0.001  # share of samples in flat runs at the peak: more is a clipped recording
LENGTH_RANGE = (0.5, 2.0)  # a recording lasts between these times the estimate for its text
SLOW_LENGTH_RANGE = (0.5, 3.0)  # slower speech may take longer


class PublishRefused(AudioError):
    """A version that may not go live; `findings` says which rules it breaks and by how much."""

    def __init__(self, reason: str, findings: list[Finding]) -> None:
        super().__init__(reason)
        self.findings = findings


@dataclass(frozen=True)
class Finding:
    """One rule a candidate breaks: which, and by how much."""

    rule: str
    says: str
    overridable: bool = False  # an admin may publish anyway (recognition of the words only)

    def __str__(self) -> str:
        return f"{self.rule}: {self.says}"


@dataclass(frozen=True)
class Facts:
    """What a file measures: loudness, silence at either end, clipping, length."""

    seconds: float
    lufs: float
    leading: float
    trailing: float
    clipped: float


@dataclass(frozen=True)
class Pending:
    """A candidate waiting to be published, and what stands in its way."""

    prompt_id: str
    lang: str
    slow: bool
    version: int
    by: str
    role: str
    made_at: str
    safety_critical: bool
    findings: list[Finding] = field(default_factory=list)

    @property
    def needs_approval(self) -> bool:
        """Tell whether an admin must approve it: a staff member's change to a safety-critical prompt."""
        return self.safety_critical and self.role != "admin"


def safety_critical(flow: Flow) -> set[str]:
    """Return the prompts that keep callers safe: the greeting, the 999 and Silent Solution advice,
    the transfer to a person and its fallback, and the safe answer."""
    critical = set(flow.safe_say) | {flow.emergency_prompt}
    start = flow.nodes.get(flow.start)
    if start is not None:
        critical |= set(start.say)
        menu = language_node(flow)
        heard = opening(flow, flow.default_language, [flow.default_language])
        end = advice_end(flow, heard, flow.default_language)
        critical |= {pid for pid, _ in heard[: (end or 0) + 1]} if end is not None else set()
        if menu is not None:
            critical |= set(menu.say)
    for key in flow.global_keys.values():
        node = flow.nodes.get(key.node or "")
        if node is not None and node.kind == "transfer":
            critical |= set(node.say) | set(node.failed_say)
    return {pid for pid in critical if pid}


def _mulaw_table() -> list[int]:
    table = []
    for code in range(256):
        u = ~code & 0xFF
        sign, exponent, mantissa = u & 0x80, (u >> 4) & 0x07, u & 0x0F
        magnitude = ((mantissa << 3) + 0x84) << exponent
        table.append(-(magnitude - 0x84) if sign else magnitude - 0x84)
    return table


MULAW = _mulaw_table()


def measure(path: Path) -> Facts:
    """Measure a library file (G.711 mu-law WAV): loudness with ffmpeg, the rest from its samples."""
    info = sound.wav_info(path)
    data = path.read_bytes()[-info.data_bytes :] if info.data_bytes else b""
    samples = array("h", (MULAW[b] for b in data)) if info.format_tag == sound.WAV_MULAW else array("h")
    loud = sound.measure(path, 130.0).lufs
    threshold = SILENCE * 32768
    voiced = [i for i, s in enumerate(samples) if abs(s) > threshold]
    rate = info.rate or sound.RATE
    leading = (voiced[0] / rate) if voiced else len(samples) / rate
    trailing = ((len(samples) - 1 - voiced[-1]) / rate) if voiced else len(samples) / rate
    return Facts(info.seconds, loud, leading, trailing, _clipped(samples))


def _clipped(samples: array[int]) -> float:
    """Return the share of samples in flat runs (three or more alike) at the peak: a clipped signal."""
    if not samples:
        return 0.0
    peak = max(abs(s) for s in samples)
    if peak < 1000:
        return 0.0
    flat, run = 0, 1
    for previous, current in zip(samples, samples[1:], strict=False):
        if current == previous and abs(current) >= peak:
            run += 1
            continue
        if run >= 3:
            flat += run
        run = 1
    return (flat + (run if run >= 3 else 0)) / len(samples)


def file_findings(flow: Flow, prompt_id: str, lang: str, slow: bool, facts: Facts) -> list[Finding]:
    """Return what is wrong with a file on its own: loudness, silence, clipping, length for its text."""
    found = []
    # Integrated loudness needs a few seconds of sound to mean anything; the conversion normalises
    # every file anyway, so a short prompt ("Main menu.") is judged by the other rules.
    if facts.seconds >= LOUDNESS_MIN_SECONDS and abs(facts.lufs - sound.TARGET_LUFS) > LOUDNESS_TOLERANCE:
        found.append(
            Finding(
                "loudness",
                f"{facts.lufs:.1f} LUFS is {abs(facts.lufs - sound.TARGET_LUFS):.1f} LU from the "
                f"{sound.TARGET_LUFS:.0f} LUFS every prompt has (at most {LOUDNESS_TOLERANCE:.0f} LU)",
            )
        )
    if facts.leading > MAX_LEADING_SILENCE:
        found.append(
            Finding(
                "silence",
                f"{facts.leading:.1f} s of silence before it starts (at most {MAX_LEADING_SILENCE} s)",
            )
        )
    if facts.trailing > MAX_TRAILING_SILENCE:
        found.append(
            Finding(
                "silence", f"{facts.trailing:.1f} s of silence at the end (at most {MAX_TRAILING_SILENCE} s)"
            )
        )
    if facts.clipped > MAX_CLIPPED:
        found.append(Finding("clipping", f"{facts.clipped:.2%} of it is clipped (at most {MAX_CLIPPED:.1%})"))
    estimate = speech_seconds(flow.catalogue.text(prompt_id, lang), flow.catalogue.languages.get(lang))
    low, high = SLOW_LENGTH_RANGE if slow else LENGTH_RANGE
    if estimate > 0 and not low * estimate <= facts.seconds <= high * estimate:
        found.append(
            Finding(
                "length for its text",
                f"it lasts {facts.seconds:.1f} s; its text takes about {estimate:.1f} s "
                f"(between {low * estimate:.1f} and {high * estimate:.1f} s is plausible)",
            )
        )
    return found


def rule_findings(lib: AudioLibrary, flow: Flow, prompt_id: str, lang: str, seconds: float) -> list[Finding]:
    """Return the caller's rules the candidate would break that the live audio does not: `ivr check`'s own."""
    present = lib.present(flow)
    durations = lib.durations(flow)

    def with_it(pid: str, code: str) -> float | None:
        return seconds if (pid, code) == (prompt_id, lang) else durations(pid, code)

    def playable(pid: str, code: str, slow: bool) -> str | None:
        return "candidate" if (pid, code, slow) == (prompt_id, lang, False) else present(pid, code, slow)

    before = set(verdict(flow, present, durations).problems)
    after = verdict(flow, playable, with_it).problems
    return [Finding("the caller's rules", problem.reason) for problem in after if problem not in before]


def judge(
    lib: AudioLibrary, flow: Flow, prompt_id: str, lang: str, slow: bool, version: dict[str, Any]
) -> list[Finding]:
    """Measure a version and return every rule it would break if it went live (empty: it may)."""
    path = lib.root / version["file"]
    problem = lib.problem(version["file"])
    if problem:
        return [Finding("playable", problem)]
    if version["text_hash"] != flow.catalogue.text_hash(prompt_id, lang):
        return [Finding("its text", "it was made from another text than the prompt has today")]
    facts = _MEASURED.get(version["file"])
    if facts is None:  # a library file's name holds its content's hash: it is measured once
        facts = _MEASURED[version["file"]] = measure(path)
    found = file_findings(flow, prompt_id, lang, slow, facts)
    if not slow:
        found += rule_findings(lib, flow, prompt_id, lang, facts.seconds)
    if version.get("source") == "recording" and not slow:  # gTTS says its text: a person may not
        found += words_findings(flow, prompt_id, lang, path, version["file"])
    return found


_MEASURED: dict[str, Facts] = {}  # by file name under audio/: files never change
_HEARD: dict[tuple[str, str, str], recognise.Verdict] = {}  # (file, prompt, language): files never change


def words_findings(flow: Flow, prompt_id: str, lang: str, path: Path, name: str) -> list[Finding]:
    """Return what the recogniser says against a recording: another prompt's words, or none recognised.

    English only (the bundled model). A recording heard saying another prompt is refused; for the
    prompts that keep callers safe, anything but its own words is refused. An admin may override.
    """
    if not recognise.supported(lang):
        return []
    key = (name, prompt_id, lang)
    heard = _HEARD.get(key)
    if heard is None:
        heard = _HEARD[key] = recognise.check(flow, lang, prompt_id, path)
    if heard.outcome == recognise.MISMATCH:
        says = f'it sounds like {heard.other!r}, not {prompt_id!r} (heard: "{heard.heard}")'
        return [Finding("says its text", says, overridable=True)]
    if heard.outcome == recognise.UNCLEAR and recognise.safety_critical_needs_match(flow, prompt_id):
        says = f"its words could not be recognised as this prompt's ({heard.reason}); it keeps callers safe"
        return [Finding("says its text", says, overridable=True)]
    return []


def _version(lib: AudioLibrary, prompt_id: str, lang: str, slow: bool, number: int | None) -> dict[str, Any]:
    entry = lib.entry(prompt_id, lang, slow)
    number = number if number is not None else entry.get("candidate")
    chosen = next((v for v in entry.get("versions", []) if v["version"] == number), None)
    if chosen is None:
        what = f"version {number}" if number is not None else "candidate waiting"
        raise AudioError(f"{key_of(prompt_id, lang, slow)} has no {what}")
    return chosen


def findings_for(
    lib: AudioLibrary, flow: Flow, prompt_id: str, lang: str, slow: bool = False, version: int | None = None
) -> list[Finding]:
    """Return what stands in the way of publishing a version (the candidate by default)."""
    return judge(lib, flow, prompt_id, lang, slow, _version(lib, prompt_id, lang, slow, version))


def publish(
    lib: AudioLibrary,
    flow: Flow,
    prompt_id: str,
    lang: str,
    slow: bool = False,
    version: int | None = None,
    *,
    by: str,
    role: str,
    override: bool = False,
) -> PromptAudio:
    """Make a version live (the candidate by default), if the caller's rules pass; PublishRefused if not."""
    chosen = _version(lib, prompt_id, lang, slow, version)
    number = chosen["version"]
    findings = judge(lib, flow, prompt_id, lang, slow, chosen)
    waiting = [f for f in findings if not (override and role == "admin" and f.overridable)]
    if waiting:
        raise PublishRefused(
            f"{key_of(prompt_id, lang, slow)} v{number} breaks {len(waiting)} rule(s)", waiting
        )
    critical = prompt_id in safety_critical(flow)
    maker, maker_role = str(chosen.get("by", "")), str(chosen.get("role", ""))
    if critical and maker_role == "staff":
        if role != "admin":
            approval = Finding(
                "four eyes", "it keeps callers safe: an admin must approve a staff member's change"
            )
            raise PublishRefused("an admin must approve it", [approval])
        if maker and maker == by:
            own = Finding("four eyes", "an admin cannot approve their own change")
            raise PublishRefused("another admin must approve it", [own])
    stamp = f"{now_iso()} by {by}" + (" (approved)" if critical and maker_role == "staff" else "")

    def change(entries: dict[str, Any]) -> None:
        entry = entries.get(key_of(prompt_id, lang, slow))
        target = next((v for v in (entry or {}).get("versions", []) if v["version"] == number), None)
        if entry is None or target is None:
            raise AudioError(f"{key_of(prompt_id, lang, slow)} v{number} is gone")
        entry["current"] = number
        if entry.get("candidate") == number:
            entry.pop("candidate", None)
        target["published"] = stamp
        if override and findings:
            target["override"] = "; ".join(str(f) for f in findings)

    lib.update(change)
    return lib.prompt(flow, prompt_id, lang, slow)


def pending(lib: AudioLibrary, flow: Flow, with_findings: bool = True) -> list[Pending]:
    """Return every candidate waiting to be published, with what stands in its way."""
    critical = safety_critical(flow)
    waiting = []
    for (prompt_id, lang, slow), entry in lib.entries():
        number = entry.get("candidate")
        version = next((v for v in entry.get("versions", []) if v["version"] == number), None)
        if version is None or not flow.catalogue.has(prompt_id, lang):
            continue
        findings = judge(lib, flow, prompt_id, lang, slow, version) if with_findings else []
        waiting.append(
            Pending(
                prompt_id,
                lang,
                slow,
                int(version["version"]),
                str(version.get("by", "")),
                str(version.get("role", "")),
                str(version.get("made_at", "")),
                prompt_id in critical,
                findings,
            )
        )
    return sorted(waiting, key=lambda p: p.made_at)
