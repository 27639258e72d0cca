"""``python -m acmevault_cli``: the same as the ``acmevault`` command."""

from acmevault_cli.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
