"""Generate a valid call flow of any size from the shipped one, for timing `ivr check`."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

FANOUT = 4


def generate(source: Path, target: Path, extra_nodes: int) -> Path:
    """Copy the shipped prompts to target and hang a tree of extra_nodes menus and messages off it.

    The tree hangs off the report menu's free third key, so every generated node is
    reachable, its options numbered 1..n and goal first: the flow stays valid.
    """
    target.mkdir(parents=True, exist_ok=True)
    for path in source.glob("*.yaml"):
        shutil.copy(path, target / path.name)
    flow = yaml.safe_load((source / "flow.yaml").read_text(encoding="utf-8"))
    catalogue_path = target / "en-GB.yaml"
    catalogue = yaml.safe_load(catalogue_path.read_text(encoding="utf-8"))
    nodes: dict[str, object] = flow["nodes"]
    texts: dict[str, str] = catalogue["prompts"]

    def node_id(i: int) -> str:
        return f"topic_{i}"

    for i in range(extra_nodes):
        children = [c for c in range(FANOUT * i + 1, FANOUT * i + FANOUT + 1) if c < extra_nodes]
        texts[f"topic_{i}_text"] = f"Topic {i}: a short explanation that callers hear in full."
        options = {}
        for key, child in enumerate(children, start=1):
            options[key] = {"say": f"opt_topic_{child}", "goto": node_id(child)}
            texts[f"opt_topic_{child}"] = f"To hear about topic {child}, press {key}."
        if not children:
            options = {
                1: {"say": "opt_talk_refuge", "goto": "refuge_transfer"},
                2: {"say": "opt_main_menu", "goto": "main_menu"},
            }
        nodes[node_id(i)] = {
            "kind": "menu" if children else "message",
            "say": [f"topic_{i}_text"],
            "options": options,
        }
    if extra_nodes:
        # The report menu has two options: the generated tree hangs off a third.
        texts["opt_topic_0"] = "To hear about topic 0, press 3."
        nodes["report_menu"]["options"][3] = {"say": "opt_topic_0", "goto": node_id(0)}  # type: ignore[index]
    (target / "flow.yaml").write_text(
        yaml.safe_dump(flow, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    catalogue_path.write_text(
        yaml.safe_dump(catalogue, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    return target
