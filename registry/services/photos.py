"""Incident photos: files kept in the instance folder under their SHA-256, named by incident events.

The log holds only each photo's hash (``report_incident.photos``); the bytes
live in ``<instance>/photos/<sha256>``, written once and never changed, so a
bundle can carry them and anyone can check them against the event.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from registry.domain.errors import DomainError, invalid

#: The largest photo accepted (a phone camera's full-size JPEG is well under this).
MAX_BYTES = 25 * 1024 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}")


def folder(registry) -> Path:
    return Path(registry.instance_path) / "photos"


def path_of(registry, sha256: str) -> Path | None:
    """Return the stored file of a photo, or None when no such photo was uploaded."""
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        return None
    path = folder(registry) / sha256
    return path if path.is_file() else None


def store(registry, data: bytes) -> tuple[str, int, bool]:
    """Keep *data* under its SHA-256; return ``(sha256, size, created)`` (the same bytes twice: one file)."""
    if not data:
        raise invalid({"file": [("照片不能为空", "the photo is empty")]})
    if len(data) > MAX_BYTES:
        raise DomainError("payload_too_large", "照片过大", f"a photo may be at most {MAX_BYTES} bytes", status=413)
    digest = hashlib.sha256(data).hexdigest()
    target = folder(registry) / digest
    if target.is_file():
        return digest, len(data), False
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return digest, len(data), True


def require_uploaded(registry, hashes: list[str], field: str = "photos") -> None:
    """Refuse (422) an event naming a photo that was never uploaded (``POST /api/v1/photos``)."""
    errors = {
        f"{field}.{i}": [("照片未上传：请先通过 POST /api/v1/photos 上传", "no such photo: upload it first (POST /api/v1/photos)")]
        for i, h in enumerate(hashes or []) if path_of(registry, h) is None
    }
    if errors:
        raise invalid(errors, code="photo_not_uploaded")
