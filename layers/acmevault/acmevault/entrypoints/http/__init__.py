"""The HTTP API: API Gateway (REST, AWS_IAM auth) → routes → use cases, and the one place errors become HTTP.

A route checks its request (``requests``: size, media type, JSON, known fields, a valid name in the path),
asks who is calling and whether they may (``access``), calls one use case and answers JSON. POST and PUT
act at most once per request (``idempotency``). Every error is ``{"error": code, "message": text}``, its
status chosen by the error's class (``errors.STATUS_BY_ERROR``), never by its text.

The routes, by resource: ``directories``, ``rotation`` (rotate and revoke a directory's credential) and
``certificates``. They are given what they use through Powertools' ``Depends`` (``dependencies``), never
fetch it; ``api.resolver()`` puts them and the error handlers in one resolver for functions/api/app.py.
openapi.yaml lists every route, and tests/unit/test_openapi.py holds the two together.
"""
