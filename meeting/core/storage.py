"""Uploaded files: checked, then kept under STORAGE_DIR with a random name, outside the web root.

`store_upload()` refuses a file that is empty, too large, or whose bytes are not one of the allowed
types — the type is read from the content (magic numbers, with the pure-Python `filetype`), never
from the name or the browser's Content-Type, and the name's extension must agree with it (a text file
called `note.pdf` is refused). Nothing is written before the type is known, and a file refused for
its size is removed, so a refusal leaves no trace. The caller keeps the returned `StoredFile` in its
own columns (key, original name, content type, size, SHA-256) and serves the file with
`send_file(path_for(key), ...)`, which gives downloads their ETag, 304 and Range."""

import hashlib
import os
import re
import secrets
import tempfile
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import filetype
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import event
from sqlalchemy.orm import Session

from .errors import DomainError

CHUNK_SIZE = 64 * 1024
# What `filetype` needs to recognise every type it knows.
SIGNATURE_BYTES = 8192
KEY_PATTERN = re.compile(r"[0-9a-f]{2}/[0-9a-f]{32}")
NAME_LENGTH = 255

# Content type -> the extensions a file of that type may have.
PDF = {"application/pdf": (".pdf",)}
IMAGES = {"image/jpeg": (".jpg", ".jpeg"), "image/png": (".png",)}
PDF_OR_IMAGE = {**PDF, **IMAGES}
TYPE_NAMES = {"image/jpeg": "JPEG"}


class UploadRefused(DomainError):
    code = "upload_refused"
    status = 422


@dataclass(frozen=True)
class StoredFile:
    key: str
    original_name: str
    content_type: str
    size: int
    sha256: str


def storage_root() -> Path:
    return Path(current_app.config["STORAGE_DIR"])


def path_for(key: str) -> Path:
    """The file kept under `key`; a key that `store_upload` cannot have made is refused."""
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
        raise ValueError(f"not a storage key: {key!r}")
    return storage_root() / key


def delete_stored(key: str | None) -> None:
    """Remove a stored file (a replaced or abandoned upload); a missing file is no error."""
    if key:
        path_for(key).unlink(missing_ok=True)


_DELETE_AFTER_COMMIT = "meeting.delete_after_commit"


def delete_after_commit(session, key: str | None) -> None:
    """Remove a stored file once `session`'s transaction has committed: a file replaced by a new
    upload, which the row names until then (after a rollback it still does, and the file stays)."""
    if key:
        session.info.setdefault(_DELETE_AFTER_COMMIT, []).append(key)


@event.listens_for(Session, "after_commit")
def _delete_committed(session) -> None:
    for key in session.info.pop(_DELETE_AFTER_COMMIT, []):
        delete_stored(key)


@event.listens_for(Session, "after_soft_rollback")
def _keep_rolled_back(session, previous_transaction) -> None:
    if not previous_transaction.nested:  # the whole transaction, not a savepoint within it
        session.info.pop(_DELETE_AFTER_COMMIT, None)


def clean_name(name: str | None) -> str:
    """The name the person gave the file, for showing and for the download: the last path part,
    without control characters, Unicode kept ("Note verbale – Côte d'Ivoire.pdf")."""
    name = unicodedata.normalize("NFC", (name or "").replace("\\", "/").rsplit("/", 1)[-1])
    name = "".join(char for char in name if unicodedata.category(char)[0] != "C").strip(" .")
    if len(name) > NAME_LENGTH:
        stem, dot, extension = name.rpartition(".")
        name = stem[: NAME_LENGTH - len(extension) - 1] + dot + extension if dot and len(extension) < 16 else name
        name = name[:NAME_LENGTH]
    return name


def _describe(allowed_types: Mapping[str, Sequence[str]]) -> str:
    """ "PDF, JPEG, PNG": each allowed type by its usual name."""
    return ", ".join(
        TYPE_NAMES.get(content_type, names[0].lstrip(".").upper()) for content_type, names in allowed_types.items()
    )


def file_size_text(size: int) -> str:
    """A size limit as people read it: "10 MB", "200 KB"."""
    if size >= 1024 * 1024:
        return _("%(size)s MB", size=f"{size / (1024 * 1024):.3g}")
    return _("%(size)s KB", size=f"{size / 1024:.3g}")


def store_upload(file_storage, allowed_types: Mapping[str, Sequence[str]], max_bytes: int) -> StoredFile:
    """Check an uploaded file (werkzeug `FileStorage`) and keep it; raises `UploadRefused`, whose
    message is written for the person who sent the file."""
    name = clean_name(getattr(file_storage, "filename", ""))
    if file_storage is None or not name:
        raise UploadRefused(_("Choose a file to upload."))
    extension = os.path.splitext(name)[1].lower()
    allowed_extensions = {ext for names in allowed_types.values() for ext in names}
    if extension not in allowed_extensions:
        raise UploadRefused(
            _("This kind of file is not accepted. Send one of these: %(types)s.", types=_describe(allowed_types))
        )

    stream = file_storage.stream
    head = stream.read(SIGNATURE_BYTES)
    if not head:
        raise UploadRefused(_("The file is empty."))
    kind = filetype.guess(head)
    content_type = kind.mime if kind is not None else None
    if content_type not in allowed_types:
        raise UploadRefused(
            _(
                "The content of “%(name)s” is not one of the accepted kinds of file (%(types)s), whatever its "
                "name says. Send the document itself, for example saved or scanned as PDF.",
                name=name,
                types=_describe(allowed_types),
            )
        )
    if extension not in allowed_types[content_type]:
        raise UploadRefused(
            _(
                "“%(name)s” is named like another kind of file than it contains (%(kind)s). "
                "Rename it to end in %(extension)s, or send the right file.",
                name=name,
                kind=kind.extension.upper(),
                extension=allowed_types[content_type][0],
            )
        )

    too_large = UploadRefused(
        _(
            "The file is larger than %(size)s. Send a smaller file (a scan at 150 dpi is enough).",
            size=file_size_text(max_bytes),
        )
    )
    if len(head) > max_bytes:
        raise too_large
    digest = hashlib.sha256()
    token = secrets.token_hex(16)
    key = f"{token[:2]}/{token}"
    target = path_for(key)
    target.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as out:
            chunk = head
            while chunk:
                size += len(chunk)
                if size > max_bytes:
                    raise too_large
                digest.update(chunk)
                out.write(chunk)
                chunk = stream.read(CHUNK_SIZE)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return StoredFile(key=key, original_name=name, content_type=content_type, size=size, sha256=digest.hexdigest())
