"""An app that is no longer used is freed: nothing process-wide keeps a reference to it.

FastAPI caches what it learns about each route's callable in process-wide caches (4,096
entries each); a route handler written as a closure inside ``create_app`` put one entry per app
there, which kept every app (its routes, settings, stores) alive: hundreds of apps in a test
worker, and their garbage scanned by every full collection.
"""

from __future__ import annotations

import gc
import weakref

from fastapi.testclient import TestClient

from .conftest import fresh_user_store, make_env


def _use_an_app() -> weakref.ref[object]:
    env = make_env(fresh_user_store())
    with TestClient(env.app, base_url="http://testserver") as client:
        assert client.get("/docs").status_code == 200  # the API reference page
        assert client.get("/login").status_code == 200
    return weakref.ref(env.app)


def test_an_app_no_longer_used_is_freed() -> None:
    _use_an_app()  # the first app of a process may be kept by the tests' shared route state
    refs = [_use_an_app() for _ in range(3)]
    gc.collect()
    assert [ref() is None for ref in refs] == [True, True, True]
