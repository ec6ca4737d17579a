"""`python -m gamepipe`: the `gamepipe` command, for callers that have the interpreter
but not necessarily the script on PATH (the stream starting table care)."""

from gamepipe.cli import main

main()
