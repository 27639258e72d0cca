"""The HTTP API (API Gateway REST, AWS_IAM auth) as one Powertools resolver: every resource's routes and
the error mapping. functions/api/app.py builds it once per container; tests/unit/test_openapi.py holds
it and openapi.yaml together.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from acmevault.entrypoints.http import certificates, directories, errors, rotation

ROUTERS = (directories.router, rotation.router, certificates.router, errors.router)


def resolver() -> APIGatewayRestResolver:
    """A resolver serving every route of the API, each error answered in the API's one format."""
    # debug=False whatever POWERTOOLS_DEV says: debug mode prints whole events, and a body may hold an HMAC key.
    app = APIGatewayRestResolver(debug=False)
    for router in ROUTERS:
        app.include_router(router)
    return app
