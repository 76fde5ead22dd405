"""Configuration from the environment (API.md "Configuration")."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit


def from_environment(environ: dict[str, str] | None = None) -> dict:
    """Return the registry settings named by REGISTRY_* environment variables."""
    env = os.environ if environ is None else environ
    instance = Path(env.get("REGISTRY_INSTANCE", "instance")).resolve()
    public_url = env.get("REGISTRY_PUBLIC_URL", "http://127.0.0.1:5000").rstrip("/")
    return {
        "INSTANCE_PATH": str(instance),
        "DATABASE_URL": env.get("REGISTRY_DATABASE_URL") or f"sqlite:///{instance / 'registry.db'}",
        "PUBLIC_URL": public_url,
        "LOG_ORIGIN": env.get("REGISTRY_LOG_ORIGIN") or "",
        "HASH": env.get("REGISTRY_HASH", "sha256"),
        "SIGNING_KEY": env.get("REGISTRY_SIGNING_KEY") or str(instance / "keys" / "signing.pem"),
        "SECRET_KEY": env.get("REGISTRY_SECRET_KEY") or "",
        "TOKEN_TTL_SECONDS": int(env.get("REGISTRY_TOKEN_TTL", str(12 * 3600))),
        # the directory of the other regions' logs (registry.regions), if this registry is one of several
        "REGIONS": env.get("REGISTRY_REGIONS") or "",
    }


def log_origin(public_url: str, configured: str, hash_name: str) -> str:
    """Return the checkpoint origin: configured, or the public URL's host + ``/log``; ``/sm3`` appended for SM3."""
    origin = configured or (urlsplit(public_url).netloc + "/log")
    if hash_name == "sm3" and not origin.endswith("/sm3"):
        origin += "/sm3"
    return origin


def normalise_database_url(url: str) -> str:
    """Use the psycopg 3 driver for PostgreSQL URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
