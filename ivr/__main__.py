"""`python -m ivr …` runs the `ivr` command."""

from .cli import cli

cli()
