"""Editing a test's copy of the prompt files, as staff and admins edit them."""

from __future__ import annotations

import os
import re
from pathlib import Path


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    """Replace text in a copied prompts file, failing if it is not there; `prompt:ID` replaces a prompt.

    The file's modification time moves on even within one clock tick, as any real edit's would.
    """
    text = path.read_text()
    before = path.stat().st_mtime_ns
    if old.startswith("prompt:"):
        entry = re.compile(rf"\n  {old.removeprefix('prompt:')}: (>-\n(    .*\n)+|.*\n)")
        assert entry.search(text), f"{old!r} not in {path.name}"
        path.write_text(entry.sub(lambda _: f"\n  {old.removeprefix('prompt:')}: >-\n    {new}\n", text, 1))
    else:
        assert old in text, f"{old!r} not in {path.name}"
        path.write_text(text.replace(old, new, count))
    if path.stat().st_mtime_ns == before:
        os.utime(path, ns=(before + 1000, before + 1000))


def edit_text(prompts_dir: Path, old: str, new: str) -> None:
    """Edit the English catalogue of a copied prompts folder."""
    edit(prompts_dir / "en-GB.yaml", old, new)
