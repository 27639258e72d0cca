"""How requests reach the use cases inside Lambda: the HTTP API's routes and what every handler shares.

The handlers themselves are ``functions/*/app.py``; the operator CLI is the separate ``acmevault_cli`` package,
which is not part of the Lambda layer.
"""
