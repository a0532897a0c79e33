"""The recording script for a voice artist: each prompt's id, where it plays, its exact words."""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass

from ..flow import Flow
from ..flow.catalogue import placeholders, spell_number
from ..flow.queries import places
from .library import PromptAudio


@dataclass(frozen=True)
class Line:
    """One prompt to record."""

    prompt_id: str
    lang: str
    slow: bool
    where: str
    text: str
    numbers: str
    state: str
    source: str


def lines(flow: Flow, rows: list[PromptAudio]) -> list[Line]:
    """Turn status rows into script lines, with every phone number as it must be read."""
    where = places(flow)
    out = []
    for row in rows:
        raw = flow.catalogue.raw(row.prompt_id, row.lang)
        numbers = [
            f"{flow.contacts[name].name}: {spell_number(flow.catalogue.spoken[name])}"
            for name in placeholders(raw)
            if name in flow.catalogue.spoken and name in flow.contacts
        ]
        out.append(
            Line(
                prompt_id=row.prompt_id,
                lang=row.lang,
                slow=row.slow,
                where="; ".join(where.get(row.prompt_id, ["not used by the flow"])),
                text=row.text,
                numbers="; ".join(numbers),
                state=row.state,
                source=row.source or "",
            )
        )
    return out


HEADER = ["prompt_id", "language", "speed", "where it plays", "text", "numbers (read digit by digit)", "now"]


def to_csv(script: list[Line]) -> str:
    """Write the script as CSV, one prompt a row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    for line in script:
        writer.writerow(
            [
                line.prompt_id,
                line.lang,
                "slow" if line.slow else "normal",
                line.where,
                line.text,
                line.numbers,
                f"{line.state} {line.source}".strip(),
            ]
        )
    return buffer.getvalue()


def to_html(script: list[Line], title: str) -> str:
    """Write the script as a printable HTML page; every text is escaped."""
    e = html.escape
    rows = []
    for line in script:
        file_name = f"{line.prompt_id}{'-slow' if line.slow else ''}.wav"
        numbers = f'<p class="numbers">Numbers: {e(line.numbers)}</p>' if line.numbers else ""
        rows.append(
            "<tr>"
            f"<td><code>{e(line.prompt_id)}</code><br>"
            f"<small>save as {e(line.lang)}/{e(file_name)}</small></td>"
            f"<td>{e(line.where)}</td>"
            f'<td lang="{e(line.lang)}"><p class="text">{e(line.text)}</p>{numbers}</td>'
            f"<td>{e(line.state)} {e(line.source)}{' (slow)' if line.slow else ''}</td>"
            "</tr>"
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 1px solid #999; padding: .5em; vertical-align: top; text-align: left; }}
.text {{ font-size: 1.2em; margin: 0; }}
.numbers {{ color: #333; }}
</style></head><body>
<h1>{e(title)}</h1>
<p>Read each text exactly as written, calmly. Phone numbers are read digit by digit, in the groups
shown, with a short pause between groups. Save each take under the name shown (wav, mp3, m4a, ogg
or webm) and import them with <code>ivr prompts import FOLDER</code>.</p>
<table>
<thead><tr><th scope="col">Prompt</th><th scope="col">Where it plays</th><th scope="col">Text</th>
<th scope="col">Now</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table></body></html>
"""
