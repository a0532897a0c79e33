"""Generate a valid call flow of any size from the shipped one, for timing `ivr check`."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

FANOUT = 4


def generate(source: Path, target: Path, extra_nodes: int) -> Path:
    """Copy the shipped prompts to target and hang a tree of extra_nodes menus and messages off it.

    The tree hangs off the first menu with a free key, so every generated node is
    reachable, its options numbered 1..n and goal first: the flow stays valid.
    """
    target.mkdir(parents=True, exist_ok=True)
    flow = yaml.safe_load((source / "flow.yaml").read_text(encoding="utf-8"))
    # One language keeps the generated wording valid against that language's rules.
    lang = flow.get("default_language", "en-GB")
    flow["languages"] = {lang: flow["languages"][lang]}
    for node in flow["nodes"].values():
        if node.get("kind") == "language":
            node["options"] = {k: o for k, o in node["options"].items() if o.get("lang") == lang}
    # Nodes only another language's choice leads to would be unreachable.
    flow["nodes"].pop("language_welcome", None)
    catalogue_path = target / f"{lang}.yaml"
    shutil.copy(source / f"{lang}.yaml", catalogue_path)
    catalogue = yaml.safe_load(catalogue_path.read_text(encoding="utf-8"))
    nodes: dict[str, object] = flow["nodes"]
    texts: dict[str, str] = catalogue["prompts"]

    def node_id(i: int) -> str:
        return f"topic_{i}"

    def name(i: int) -> str:
        """Name a topic in letters: numbers in digits are not allowed in spoken prompts."""
        letters = ""
        while True:
            i, rest = divmod(i, 26)
            letters = chr(ord("a") + rest) + letters
            if i == 0:
                return " ".join(letters)

    for i in range(extra_nodes):
        children = [c for c in range(FANOUT * i + 1, FANOUT * i + FANOUT + 1) if c < extra_nodes]
        texts[f"topic_{i}_text"] = f"Topic {name(i)}: a short explanation that callers hear in full."
        options = {}
        for key, child in enumerate(children, start=1):
            options[key] = {"say": f"opt_topic_{child}", "goto": node_id(child)}
            texts[f"opt_topic_{child}"] = f"To hear about topic {name(child)}, press {key}."
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
        # The tree hangs off the first menu with a free key.
        menu = next(n for n in nodes.values() if n["kind"] == "menu" and len(n["options"]) < FANOUT)  # type: ignore[index]
        key = len(menu["options"]) + 1  # type: ignore[index]
        texts["opt_topic_0"] = f"To hear about topic {name(0)}, press {key}."
        menu["options"][key] = {"say": "opt_topic_0", "goto": node_id(0)}  # type: ignore[index]
    (target / "flow.yaml").write_text(
        yaml.safe_dump(flow, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    catalogue_path.write_text(
        yaml.safe_dump(catalogue, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    return target
