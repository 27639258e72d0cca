"""The ``acmevault`` command as a program: its console script (pyproject.toml) and ``python -m acmevault_cli``."""

import gc


def run() -> int:
    """Run the command given on the command line, without the cycle collector.

    A command lives about a second and imports most of botocore: the collector would walk each import's
    new objects again and again (6% of `acmevault cert list`'s instructions) and free next to nothing.
    Only here, in a process of the command's own: ``acmevault_cli.cli.main`` called in another program
    (the tests) leaves its collector alone. `renew --due` turns it back on for its sweep.
    """
    gc.disable()
    from acmevault_cli.cli import main

    return main()


if __name__ == "__main__":
    raise SystemExit(run())
