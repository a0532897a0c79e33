"""`ivr prompts script`: the recording script a voice artist reads from, in HTML and CSV."""

from __future__ import annotations

import csv
import io
from html.parser import HTMLParser
from pathlib import Path

from tests.helpers.audio import voice_for
from tests.helpers.reload import settled


def read_csv(path: Path) -> dict[str, dict[str, str]]:
    rows = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))
    return {row["prompt_id"]: row for row in rows}


class Cells(HTMLParser):
    """Collect the text of each table cell."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self._in = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "td":
            self._in = True
            self.cells.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._in = False

    def handle_data(self, data: str) -> None:
        if self._in:
            self.cells[-1] += data


def test_the_script_has_every_prompt_with_where_it_plays_and_its_numbers(
    app, ivr, flow, tmp_path: Path
) -> None:
    out = tmp_path / "script"
    result = ivr("prompts", "script", "--out", str(out))
    assert result.exit_code == 0, result.output
    rows = read_csv(out / "script-en-GB.csv")
    assert set(rows) == set(flow.catalogue.languages["en-GB"].texts)
    refuge = rows["refuge_number"]
    assert refuge["text"] == flow.catalogue.text("refuge_number", "en-GB")
    assert "0 8 0 8, 2 0 0 0, 2 4 7" in refuge["text"]
    assert (
        "Refuge, National Domestic Abuse Helpline: 0 8 0 8, 2 0 0 0, 2 4 7"
        in refuge["numbers (read digit by digit)"]
    )
    assert "help_refuge (message)" in refuge["where it plays"]
    assert "the safe answer" in refuge["where it plays"]
    assert "main_menu: option 1" in rows["opt_danger"]["where it plays"]
    assert "after a wrong key" in rows["not_an_option"]["where it plays"]
    assert rows["welcome"]["now"] == "missing"

    cells = Cells()
    cells.feed((out / "script-en-GB.html").read_text(encoding="utf-8"))
    assert flow.catalogue.text("advice_999", "en-GB") in "".join(cells.cells)


def test_stale_lists_only_what_needs_recording(app, ivr, prompts_dir: Path, tmp_path: Path) -> None:
    takes = tmp_path / "takes" / "en-GB"
    for pid in ("welcome", "main_menu_intro"):
        voice_for(takes / f"{pid}.wav", pid)
    assert ivr("prompts", "import", str(takes)).exit_code == 0
    catalogue = prompts_dir / "en-GB.yaml"
    catalogue.write_text(
        catalogue.read_text().replace("main_menu_intro: Main menu.", "main_menu_intro: Menu.")
    )
    settled(app)
    out = tmp_path / "script"
    result = ivr("prompts", "script", "--stale", "--out", str(out))
    assert result.exit_code == 0, result.output
    rows = read_csv(out / "script-en-GB.csv")
    assert "welcome" not in rows
    assert rows["main_menu_intro"]["text"] == "Menu."
    assert rows["main_menu_intro"]["now"] == "stale recording"


def test_texts_are_escaped_in_the_html(app, ivr, prompts_dir: Path, tmp_path: Path) -> None:
    catalogue = prompts_dir / "en-GB.yaml"
    catalogue.write_text(
        catalogue.read_text().replace(
            "main_menu_intro: Main menu.", "main_menu_intro: 'Main <b>menu</b> & more.'"
        )
    )
    settled(app)
    out = tmp_path / "script"
    assert ivr("prompts", "script", "--out", str(out)).exit_code == 0
    page = (out / "script-en-GB.html").read_text(encoding="utf-8")
    assert "Main &lt;b&gt;menu&lt;/b&gt; &amp; more." in page
    assert "<b>menu</b>" not in page
