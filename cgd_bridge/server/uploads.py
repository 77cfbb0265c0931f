"""Uploaded files spooled to disk in chunks, within the server's upload limit.

Shared by the JSON API (``routes/api.py``) and the web pages (``web/routes.py``): an upload is
written to ``folder/role/name`` a MiB at a time, refused with 413 once it passes the limit
(nothing is kept of it) and with a plain error when it is empty.
"""

from __future__ import annotations

from pathlib import Path as FilePath

from fastapi import UploadFile

from cgd_bridge.errors import CgdBridgeError, InputError
from cgd_bridge.store.submissions import RawFile


class PayloadTooLarge(CgdBridgeError):
    """An upload above the server's limit (``CGD_BRIDGE_MAX_UPLOAD_MB``)."""

    status = 413
    title = "Upload too large"


def save_upload(upload: UploadFile, folder: FilePath, role: str, limit: int) -> tuple[FilePath, RawFile]:
    """Spool ``upload`` to ``folder/role/<its file name>``; the path and the stored file.

    Raises:
        PayloadTooLarge: larger than ``limit`` bytes. InputError: empty.
    """
    name = FilePath(upload.filename or role).name or role
    if name.startswith("."):
        name = f"{role}{name}"
    path = folder / role / name
    path.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    with path.open("wb") as out:
        while chunk := upload.file.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(
                    f"the {role} file '{name}' is larger than {limit // (1 << 20)} MB",
                    fix="Split the dataset, or ask the administrator to raise CGD_BRIDGE_MAX_UPLOAD_MB.",
                    file=name,
                )
            out.write(chunk)
    if size == 0:
        raise InputError(
            f"the {role} file '{name}' is empty", fix=f"Upload the {role} file again.", file=name
        )
    raw = RawFile(
        role=role,
        filename=name,
        content=path.read_bytes(),
        media_type=upload.content_type or "application/octet-stream",
    )
    return path, raw
