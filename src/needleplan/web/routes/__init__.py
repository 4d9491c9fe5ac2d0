"""Routers: ``api`` (the REST API under /api/v1) and ``pages`` (server-rendered HTML)."""
