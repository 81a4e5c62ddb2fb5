"""scim2-server as an ASGI application for uvicorn, as its README builds it.

The store is the library's in-memory one (the only one it ships); the bearer token
the harness passes in PEERS_SCIM2_TOKEN is checked the way the library's own test
server checks its --bearer-token. One process only: each process would hold a store
of its own, so uvicorn must run a single worker.
"""

import os

from scim2_models import UnauthorizedException
from scim2_server.applications.asgi import ASGIApplication
from scim2_server.memory import AsyncInMemoryStorage
from scim2_server.utils import load_default_provider

TOKEN = os.environ["PEERS_SCIM2_TOKEN"]


class BearerTokenApplication(ASGIApplication):
    def check_auth(self, request):
        scheme, _, token = (request.header("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or token != TOKEN:
            raise UnauthorizedException


app = BearerTokenApplication(AsyncInMemoryStorage(), load_default_provider())
