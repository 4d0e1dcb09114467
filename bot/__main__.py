"""`python -m bot` is `datacall`."""

from bot.cli.app import main

main()
