"""What the Chromium tests share: one Playwright driver and one headless Chromium per test
process, a fresh browser context per test, live uvicorn servers on loopback, screenshots.

Starting the Playwright driver and Chromium costs about 1.4 CPU-seconds; the browser tests used
to pay it once per module (and some once per test). The ``browser`` fixture of
tests/web/conftest.py now hands every test the same Chromium, started on first use and closed at
the end of the session. Isolation stays per test: each test opens its own contexts (cookies,
storage and cache belong to a context) and ``SharedChromium.in_use`` closes every context the
test left open.

Playwright's sync API keeps its event loop marked as *running* in the calling thread between
calls (``asyncio._set_running_loop`` in ``playwright/_impl/_greenlets.py``), and expects it to be
marked so when the next call starts. Left like that for the session, it would make
``asyncio.run`` or ``anyio.run`` refuse to start in any later test of the same process
("cannot be called from a running event loop"). So the loop is marked running only while a
browser test runs, and unmarked ("parked") between them.

Skips only where /usr/bin/chromium is absent (`.ci/run` installs it).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

#: The marks of every browser test module: ``pytestmark = BROWSER_MARKS``.
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (Debian package)"),
]


class SharedChromium:
    """One Playwright driver and one Chromium for the test process (see the module docstring).

    Use the browser only inside ``in_use()``; ``close()`` at the end of the session.
    """

    def __init__(self) -> None:
        self._manager: Any = None
        self._browser: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _start(self) -> None:
        from playwright.sync_api import sync_playwright

        manager = sync_playwright()
        playwright = manager.start()
        # start() returns with Playwright's loop marked running in this thread (see above)
        self._manager, self._loop = manager, asyncio.get_running_loop()
        try:
            self._browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
            )
        except BaseException:
            self._stop()
            raise

    def _stop(self) -> None:
        manager, browser = self._manager, self._browser
        self._manager = self._browser = self._loop = None
        if manager is None:
            return
        try:
            if browser is not None and browser.is_connected():
                browser.close()
        finally:
            manager.__exit__(None, None, None)  # ends the driver; its loop is closed and unmarked

    @contextmanager
    def in_use(self) -> Iterator[Any]:
        """The browser, for one test; closes the contexts the test opened, then parks the loop."""
        if asyncio._get_running_loop() is not None:
            raise RuntimeError(
                "an asyncio loop already runs in this thread: Playwright's sync API cannot"
            )
        if self._manager is None:
            self._start()  # the loop is marked running now
        else:
            asyncio._set_running_loop(self._loop)
        try:
            if not self._browser.is_connected():  # Chromium died in an earlier test: relaunch
                self._stop()
                self._start()
            yield self._browser
        finally:
            try:
                if self._browser is not None and self._browser.is_connected():
                    for context in self._browser.contexts:
                        context.close()
            finally:
                if self._manager is not None:
                    asyncio._set_running_loop(None)

    def close(self) -> None:
        """Close Chromium and the driver (at the end of the session)."""
        if self._manager is None:
            return
        asyncio._set_running_loop(self._loop)
        self._stop()


def new_page(browser: Any, errors: list[str], **context: Any) -> Any:
    """A page in a new browser context (its own cookies and storage) whose console errors and
    uncaught page errors are appended to ``errors``."""
    ctx = browser.new_context(**context)
    page = ctx.new_page()
    page.set_default_timeout(15_000)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page


def shot(page: Any, name: str) -> None:
    """A full-page screenshot in test-artifacts/ (git-ignored), for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def free_port(ports: range | None = None) -> int:
    """A port of ``ports`` that nothing listens on right now (any free port for ``None``)."""
    with _bound(ports) as sock:
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def _bound(ports: range | None) -> Iterator[socket.socket]:
    """A loopback TCP socket bound to a free port of ``ports`` (the OS's choice for ``None``)."""
    for port in ports if ports is not None else [0]:
        sock = socket.socket()
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            sock.close()
            continue
        with sock:
            yield sock
        return
    assert ports is not None
    pytest.fail(f"no free port in {ports.start}-{ports.stop - 1}")


@contextmanager
def serving(app: Any, ports: range | None = None) -> Iterator[str]:
    """The base URL of ``app`` served by uvicorn in a thread on a loopback port of ``ports``.

    The socket is bound here and handed to uvicorn, so no other server can take the port between
    the choice and the start.
    """
    import uvicorn

    with _bound(ports) as sock:
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
        srv = uvicorn.Server(config)
        thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not srv.started:  # readiness wait, not a timing assertion
            if time.monotonic() > deadline or not thread.is_alive():
                pytest.fail("uvicorn did not start")
            time.sleep(0.02)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            srv.should_exit = True
            thread.join(timeout=10)
