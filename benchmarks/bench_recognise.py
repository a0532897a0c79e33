"""Does a recording say its text? How often PocketSphinx names the right English prompt.

    PYTHONPATH=. python benchmarks/bench_recognise.py [--prompts welcome advice_999 ...] [--no-source]

espeak-ng (Debian package `espeak-ng`) speaks every English prompt a caller hears; the library's
own conversion makes each the telephony file it would serve (G.711 mu-law, 8 kHz), and
`ivr.audio.recognise.identify` names the prompt. Prints right (a confident match with its own
prompt), prefix (the start of its own text), unclear (no confident match) and wrong (a confident
match with another prompt: the one that must never happen); then the same for espeak's own
22 kHz files (what 8 kHz costs), for sounds that are no prompt (silence, noise, another English
sentence, other languages), and the time a decoder takes to build and to decode.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ivr.audio import recognise, sound  # noqa: E402
from ivr.audio.library import AudioLibrary  # noqa: E402
from ivr.flow import Flow, parse  # noqa: E402
from ivr.flow.queries import heard_prompts  # noqa: E402

LANG = "en-GB"
VOICE = ("-v", "en-gb", "-s", "140")
OUTCOMES = ("right", "prefix", "unclear", "wrong")
# Speech that is no prompt of the catalogue: each must come out unclear, never as a prompt.
OTHERS = {
    "another English sentence": (
        "en-gb",
        "The weather in Derby will be cold and wet tomorrow, with rain later.",
    ),
    "Polish": ("pl", "Jeśli jesteś teraz w niebezpieczeństwie, rozłącz się i wybierz 9 9 9."),
    "Vietnamese": ("vi", "Nếu bạn đang gặp nguy hiểm, hãy gác máy và gọi 9 9 9."),
}


def speak(text: str, target: Path, voice: tuple[str, ...] = VOICE) -> Path:
    """Make espeak-ng say a text into a WAV file."""
    subprocess.run(["espeak-ng", *voice, "-w", str(target), text], check=True, capture_output=True)
    return target


def outcome(found: recognise.Match, prompt_id: str) -> str:
    """Classify a match of a recording of `prompt_id`: right, prefix, unclear or wrong."""
    if found.confident:
        return "right" if prompt_id in found.prompt_ids else "wrong"
    if found.prefix and prompt_id in found.prompt_ids:
        return "prefix"
    return "unclear"


def run(flow: Flow, files: dict[str, Path], title: str) -> float:
    """Identify each file, print the figures and the misses; return the seconds spent decoding."""
    tally: Counter[str] = Counter()
    spent = 0.0
    misses: list[str] = []
    for prompt_id, path in files.items():
        began = time.perf_counter()
        found = recognise.identify(flow, LANG, path)
        spent += time.perf_counter() - began
        result = outcome(found, prompt_id)
        tally[result] += 1
        if result != "right":
            named = found.prompt_id or "-"
            misses.append(
                f"    {result:8} {prompt_id:28} named {named} ({found.reason}; heard: {found.heard!r})"
            )
    figures = "  ".join(f"{name} {tally[name]}" for name in OUTCOMES)
    print(f"{title}: {len(files)} recordings: {figures}")
    for line in misses:
        print(line)
    return spent


def main() -> None:
    """Speak the prompts, convert them as the library does, and print how many are named right."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--prompts", nargs="*", help="only these prompt ids (default: all a caller hears)")
    parser.add_argument("--no-source", action="store_true", help="skip espeak's own 22 kHz files")
    args = parser.parse_args()
    if shutil.which("espeak-ng") is None:
        sys.exit("espeak-ng is not installed: apt-get install -y --no-install-recommends espeak-ng")
    flow, problems = parse(ROOT / "prompts")
    if flow is None:
        sys.exit("\n".join(str(p) for p in problems))
    ids = [pid for pid in heard_prompts(flow) if flow.catalogue.has(pid, LANG)]
    if args.prompts:
        ids = [pid for pid in ids if pid in args.prompts]
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        library = AudioLibrary(work / "audio")
        began = time.perf_counter()
        sources: dict[str, Path] = {}
        served: dict[str, Path] = {}
        for pid in ids:
            sources[pid] = speak(flow.catalogue.text(pid, LANG), work / f"{pid}.source.wav")
            served[pid] = work / f"{pid}.wav"
            library.convert(sources[pid], served[pid])
        made = time.perf_counter() - began
        seconds = sum(sound.wav_info(path).seconds for path in served.values())
        print(f"{len(ids)} prompts spoken by espeak-ng ({' '.join(VOICE)}) and converted in {made:.1f} s")

        began = time.perf_counter()
        recognise.identify(flow, LANG, served[ids[0]])  # builds the decoder (and reads the dictionary)
        built = time.perf_counter() - began
        spent = run(flow, served, "telephony files (mu-law 8 kHz, upsampled to 16 kHz)")
        print(f"  identifying (ffmpeg and decoder): {spent:.1f} s for {seconds:.0f} s of speech", end="")
        print(
            f" ({spent / seconds:.3f} x real time); the first call, which builds the decoder: {built:.2f} s"
        )
        if not args.no_source:
            run(flow, sources, "espeak-ng's own files (22 kHz, resampled to 16 kHz)")

        others: dict[str, Path] = {}
        for name, (voice, text) in OTHERS.items():
            source = speak(text, work / f"{voice}.source.wav", ("-v", voice, "-s", "140"))
            others[name] = work / f"{voice}.wav"
            library.convert(source, others[name])
        ffmpeg = sound.ffmpeg()
        for name, spec in (
            ("silence", "anullsrc=r=8000:cl=mono"),
            ("pink noise", "anoisesrc=c=pink:a=0.3:r=8000"),
        ):
            others[name] = work / f"{name.replace(' ', '_')}.wav"
            filters = ["-f", "lavfi", "-t", "3", "-i", spec, "-c:a", "pcm_mulaw", "-y", str(others[name])]
            subprocess.run([ffmpeg, "-nostdin", "-loglevel", "error", *filters], check=True)
        print("sounds that are no prompt (each should be unclear):")
        for name, path in others.items():
            found = recognise.identify(flow, LANG, path)
            said = "UNCLEAR" if not found.confident else f"WRONG: named {found.prompt_id}"
            print(f"    {name:26} {said} ({found.reason or 'confident'}; heard: {found.heard!r})")


if __name__ == "__main__":
    main()
