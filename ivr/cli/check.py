"""`ivr check`: validate the flow and every catalogue, with the audio the line would play."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..checks import load
from ..settings import Settings, SettingsError, prompts_folder
from .languages import check_with_audio


@click.command("check")
@click.option(
    "--prompts", "prompts_dir", type=click.Path(file_okay=False), help="Folder of flow.yaml and catalogues."
)
def check(prompts_dir: str | None) -> None:
    """Validate the flow and every catalogue; exit 1 on any problem."""
    if prompts_dir:
        folder = Path(prompts_dir)
    else:
        try:
            folder = prompts_folder(Settings.from_env())
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from None
    flow, problems = load(folder)
    judged = check_with_audio(flow, problems) if flow is not None else None
    problems = judged.problems if judged is not None else problems
    for problem in problems:
        click.echo(str(problem), err=True)
    if flow is not None and judged is not None and not problems:
        for line in judged.languages:
            click.echo(str(line))
        click.echo(f"flow {flow.version}: {len(flow.nodes)} nodes, no problems")
    if problems or judged is None:
        click.echo(f"{len(problems)} problem(s) found", err=True)
        sys.exit(1)
