"""The verbs of the acmevault command, one module each (``directory``, ``cert``, ``renew``, ``local``).

Each module's ``configure(parser)`` fills in its verb's parser and names the function each action runs
(``run``): it takes the parsed arguments, prints its result, raises an AcmeVaultError on failure and
returns 0. acmevault_cli.parser imports a verb's module only when that verb runs.
"""
