"""The ``Content-Disposition`` of a download, for any file name a CSO may have given.

HTTP headers are Latin-1: a Nepali or Bengali file name written into ``filename="..."`` made the
answer a 500, and a quote in it broke the header. :func:`attachment` gives the RFC 6266 form
every browser and client reads: an ASCII ``filename`` (other characters replaced by ``_``) plus
``filename*`` with the real name, UTF-8 and percent-encoded (RFC 5987).
"""

from __future__ import annotations

from urllib.parse import quote


def attachment(filename: str) -> str:
    """``attachment; filename="..."; filename*=UTF-8''...`` for ``filename`` (any characters)."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1] or "download"
    ascii_name = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name)
    encoded = quote(name, safe="")
    if encoded == ascii_name:
        return f'attachment; filename="{ascii_name}"'
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{encoded}"
