"""The input files of one dataset, as the server receives them: uploads spooled to disk in chunks
within the server's upload limit, a record filled in on a form, or files already on disk.

:class:`Inputs` is the one bundle of the JSON API (``routes/api.py``), the web pages
(``web/routes.py``) and the demo (``demo.py``): where each role's file is (what the pipeline
reads) and each as a :class:`~cgd_bridge.store.submissions.RawFile` (what the store keeps). An
upload is written to ``folder/role/name`` a MiB at a time, refused with 413 once it passes the
limit (nothing is kept of it) and with a plain error when it is empty; the folder goes when the
bundle is closed (it is a context manager).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path as FilePath
from types import TracebackType

from fastapi import UploadFile

from cgd_bridge import pipeline
from cgd_bridge.checks.disclosure import Release
from cgd_bridge.errors import CgdBridgeError, InputError
from cgd_bridge.i18n import N_, msg
from cgd_bridge.server.jobs import Jobs
from cgd_bridge.store.submissions import RawFile
from cgd_bridge.structures import Structures


class PayloadTooLarge(CgdBridgeError):
    """An upload above the server's limit (``CGD_BRIDGE_MAX_UPLOAD_MB``)."""

    status = 413
    title = N_("Upload too large")


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
                    N_("the {role} file '{name}' is larger than {most} MB"),
                    fix=N_("Split the dataset, or ask the administrator to raise CGD_BRIDGE_MAX_UPLOAD_MB."),
                    file=name,
                    params={"role": role, "name": name, "most": limit // (1 << 20)},
                )
            out.write(chunk)
    if size == 0:
        raise InputError(
            N_("the {role} file '{name}' is empty"),
            fix=N_("Upload the {role} file again."),
            file=name,
            params={"role": role, "name": name},
        )
    raw = RawFile(
        role=role,
        filename=name,
        content=path.read_bytes(),
        media_type=upload.content_type or "application/octet-stream",
    )
    return path, raw


class Inputs:
    """The files of one dataset by role (``data``, ``metadata``, ``mapping``, ``form``).

    Attributes:
        paths: where each role's file is, e.g. ``{"data": .../data/scorecard.csv}``.
        raw: the files as the store keeps them, in the order they were added.
    """

    def __init__(self, limit: int = 0) -> None:
        """A bundle whose uploads may be at most ``limit`` bytes each (in a private temporary folder)."""
        self.folder = FilePath(tempfile.mkdtemp(prefix="cgd-bridge-upload-"))
        self.limit = limit
        self.paths: dict[str, FilePath] = {}
        self.raw: list[RawFile] = []

    def save(self, role: str, upload: UploadFile) -> None:
        """Spool an upload (:func:`save_upload`: 413 above the limit, an error when empty)."""
        path, raw = save_upload(upload, self.folder, role, self.limit)
        self.paths[role] = path
        self.raw.append(raw)

    def text(self, role: str, name: str, content: str) -> None:
        """A file the form made (the metadata record filled in on /metadata)."""
        path = self.folder / role / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        self.paths[role] = path
        self.raw.append(RawFile(role, name, path.read_bytes(), "application/yaml"))

    def kept(self, raw: RawFile) -> None:
        """A file received earlier and kept on the server (:mod:`cgd_bridge.store.kept`)."""
        name = FilePath(raw.filename).name or raw.role
        if name.startswith("."):
            name = f"{raw.role}{name}"
        path = self.folder / raw.role / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(raw.content)
        self.paths[raw.role] = path
        self.raw.append(raw)

    def file(self, role: str, path: FilePath, media_type: str = "application/octet-stream") -> None:
        """A file already on disk (a bundled mapping or example), read where it is."""
        self.paths[role] = path
        self.raw.append(RawFile(role, path.name, path.read_bytes(), media_type))

    def names(self) -> dict[str, str]:
        """Each role's file name, e.g. ``{"data": "scorecard.csv"}``."""
        return {r.role: r.filename for r in self.raw}

    def harmonise(
        self,
        *,
        structures: Structures,
        sheet: str | None = None,
        jobs: Jobs | None = None,
        previous: Release | None = None,
    ) -> pipeline.Harmonisation:
        """:func:`cgd_bridge.pipeline.harmonise` on these files (nothing is stored).

        With ``jobs`` (the server's uploads) it runs in a worker process within the job limits
        (:mod:`cgd_bridge.server.jobs`), reading the same structures folder; without, here (the
        demo's bundled examples). ``previous``: the dataset's published version, which the
        disclosure audit takes as known (it travels to the worker as data).
        """
        if jobs is not None:
            result: pipeline.Harmonisation = jobs.run(
                "harmonise",
                what=msg(N_("the upload '{name}'"), name=self.names().get("data", "data")),
                data=str(self.paths["data"]),
                metadata=str(self.paths["metadata"]),
                mapping=str(self.paths["mapping"]),
                form=str(self.paths["form"]) if "form" in self.paths else None,
                sheet=sheet,
                structures_dir=str(structures.store.folder) if structures.store else None,
                previous=previous,
            )
            return result
        return pipeline.harmonise(
            self.paths["data"],
            metadata=self.paths["metadata"],
            mapping=self.paths["mapping"],
            form=self.paths.get("form"),
            sheet=sheet,
            structures=structures,
            previous=previous,
        )

    def close(self) -> None:
        """Remove the spooled files."""
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Inputs:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
