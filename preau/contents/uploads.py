"""Publishing from an uploaded archive (.zip, .tar, .tar.gz/.tgz, .tar.bz2, .tar.xz, .tar.zst).

The upload is written straight into its own folder under PREAU_CONTENT_UPLOADS (default
DATA_DIR/contents/uploads/<token>/), capped while it arrives (ArchiveUploadHandler). The request only
checks what is cheap (the format; a zip's member list); the publish job (preau.contents.jobs) extracts
member by member with every check again, then publishes the extracted tree and removes the folder
whatever happens (success, refusal, failure, cancel). A folder whose job will never run (cancelled while
queued, a crash) is removed by sweep(), called at every new upload.

Refused, with a French sentence naming the member: absolute paths, `..`, links (symbolic or hard),
devices and other special files, a member declared or found bigger than announced, more than
PREAU_CONTENT_UPLOAD_MAX_FILES members, more than PREAU_CONTENT_UPLOAD_MAX_BYTES once extracted (also the
cap of the upload itself), anything that is not one of the formats above.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import tarfile
import time
import zipfile
from datetime import timedelta
from pathlib import Path, PurePosixPath

import zstandard
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopFutureHandlers
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from .services import ContentsError

ARCHIVE = "archive"  # the uploaded file, inside the upload's folder
TREE = "tree"  # where it is extracted
CHUNK = 1 << 20
ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
IGNORED_TOP = {"__MACOSX"}  # resource forks added by macOS's archiver


class ArchiveRefused(ContentsError):
    """An archive refused; str() names the archive (and the member) in French."""


def max_bytes() -> int:
    return int(getattr(settings, "PREAU_CONTENT_UPLOAD_MAX_BYTES", 20 * 1024 ** 3))


def max_files() -> int:
    return int(getattr(settings, "PREAU_CONTENT_UPLOAD_MAX_FILES", 200_000))


def uploads_root() -> Path:
    root = getattr(settings, "PREAU_CONTENT_UPLOADS", None) or Path(settings.DATA_DIR) / "contents" / "uploads"
    return Path(root)


def folder_of(token: str) -> Path:
    if not token or not token.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"bad upload token {token!r}")
    return uploads_root() / token


def new_folder() -> tuple[str, Path]:
    token = secrets.token_urlsafe(12)
    folder = uploads_root() / token
    folder.mkdir(parents=True)
    return token, folder


def discard(token: str) -> None:
    shutil.rmtree(folder_of(token), ignore_errors=True)


def sweep(min_age: timedelta = timedelta(hours=1)) -> int:
    """Remove upload folders older than min_age whose job is not queued or running; returns how many."""
    from preau.core.models import Job

    root = uploads_root()
    if not root.is_dir():
        return 0
    live = set(Job.objects.filter(kind="contents.publish", status__in=[Job.Status.QUEUED, Job.Status.RUNNING])
               .values_list("params__upload", flat=True))
    limit = time.time() - min_age.total_seconds()
    removed = 0
    for folder in root.iterdir():
        # The archive's own time counts: an upload still arriving keeps being written to.
        touched = max([folder.stat().st_mtime] + [p.stat().st_mtime for p in folder.glob(ARCHIVE)])
        if folder.name not in live and touched <= limit:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


# --------------------------------------------------------------------------- receiving the upload


class ArchiveUpload(UploadedFile):
    """An archive already in its upload folder (written there by ArchiveUploadHandler)."""

    def __init__(self, token: str, name: str, size: int, too_big: bool):
        self.token, self.too_big = token, too_big
        path = folder_of(token) / ARCHIVE
        super().__init__(open(path, "rb"), name=name, size=size)  # noqa: SIM115 — closed with the request

    def temporary_file_path(self) -> str:
        return str(folder_of(self.token) / ARCHIVE)


class ArchiveUploadHandler(FileUploadHandler):
    """Writes an uploaded file straight into a new upload folder (no copy through /tmp), and stops
    writing past max_bytes() (the rest is read and dropped; the view refuses the upload)."""

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.token, folder = new_folder()
        self.out = open(folder / ARCHIVE, "wb")  # noqa: SIM115 — closed in file_complete
        self.size, self.too_big = 0, False
        raise StopFutureHandlers()

    def receive_data_chunk(self, raw_data, start):
        self.size += len(raw_data)
        if self.size > max_bytes():
            self.too_big = True
        elif not self.too_big:
            self.out.write(raw_data)
        return None

    def file_complete(self, file_size):
        self.out.close()
        return ArchiveUpload(self.token, self.file_name, self.size, self.too_big)

    def upload_interrupted(self):
        """Django stopped the upload (StopUpload): nothing kept. A connection lost mid-upload leaves the folder to
        sweep(), an hour after its last write."""
        if getattr(self, "out", None) is not None:
            self.out.close()
            discard(self.token)


def receive(uploaded) -> str:
    """Put an uploaded archive in its upload folder (unless ArchiveUploadHandler already did), check what is
    cheap (size, format, a zip's members) and return the upload's token. Refused: the folder is removed."""
    sweep()
    name = os.path.basename(uploaded.name or "archive")
    if isinstance(uploaded, ArchiveUpload):
        token, too_big, size = uploaded.token, uploaded.too_big, uploaded.size
    else:
        token, folder = new_folder()
        size, too_big = 0, False
        with open(folder / ARCHIVE, "wb") as out:
            for chunk in uploaded.chunks(CHUNK):
                size += len(chunk)
                if size > max_bytes():
                    too_big = True
                    break
                out.write(chunk)
    try:
        if too_big:
            raise ArchiveRefused(_("Archive « %(a)s » : plus de %(max)s, la limite des envois.")
                                 % {"a": name, "max": human(max_bytes())})
        path = folder_of(token) / ARCHIVE
        if detect(path, name) == "zip":
            with open_zip(path, name) as zf:
                check_zip_members(zf, name)
    except BaseException:
        discard(token)
        raise
    return token


def human(n: int) -> str:
    """A size as the pages show it (Django's filesizeformat, in the user's language)."""
    return str(filesizeformat(n)).replace("\xa0", " ")


# --------------------------------------------------------------------------- formats and checks


def detect(path: Path, name: str) -> str:
    """'zip', 'zst' (a zstd-compressed tar) or 'tar' (plain or gz/bz2/xz: tarfile finds out)."""
    with open(path, "rb") as f:
        head = f.read(512)
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if head[:4] == b"\x28\xb5\x2f\xfd":
        return "zst"
    if head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00" or head[257:262] == b"ustar":
        return "tar"
    raise ArchiveRefused(_("« %(a)s » n'est pas une archive reconnue : envoyez un .zip, un .tar, un .tar.gz, "
                           "un .tar.bz2, un .tar.xz ou un .tar.zst.") % {"a": name})


def member_path(raw: str, archive: str) -> PurePosixPath | None:
    """The member's relative path, or None for an ignored one (a bare '.', macOS's __MACOSX); refused when
    absolute or climbing out with '..'."""
    name = raw.replace("\\", "/")
    if "\x00" in name:
        raise ArchiveRefused(_("Archive « %(a)s », élément « %(m)s » : nom invalide.") % {"a": archive, "m": raw})
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise ArchiveRefused(_("Archive « %(a)s », élément « %(m)s » : chemin absolu refusé.")
                             % {"a": archive, "m": raw})
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveRefused(_("Archive « %(a)s », élément « %(m)s » : « .. » refusé (sortie du dossier).")
                             % {"a": archive, "m": raw})
    if not parts or parts[0] in IGNORED_TOP:
        return None
    return PurePosixPath(*parts)


def _special(archive: str, member: str) -> ArchiveRefused:
    return ArchiveRefused(_("Archive « %(a)s », élément « %(m)s » : liens et fichiers spéciaux refusés (seuls "
                            "les fichiers et dossiers sont publiés).") % {"a": archive, "m": member})


def _too_big(archive: str, member: str) -> ArchiveRefused:
    return ArchiveRefused(_("Archive « %(a)s », élément « %(m)s » : le contenu dépasse %(max)s une fois "
                            "extrait, la limite des envois.") % {"a": archive, "m": member, "max": human(max_bytes())})


def _too_many(archive: str) -> ArchiveRefused:
    return ArchiveRefused(_("Archive « %(a)s » : plus de %(n)s éléments, la limite des envois.")
                          % {"a": archive, "n": max_files()})


def open_zip(path: Path, archive: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ArchiveRefused(_("Archive « %(a)s » illisible : %(e)s.") % {"a": archive, "e": exc}) from exc


def check_zip_members(zf: zipfile.ZipFile, archive: str) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    """The zip's members to extract, after the checks on names, types, declared sizes and count."""
    infos = zf.infolist()
    if len(infos) > max_files():
        raise _too_many(archive)
    out, declared, seen = [], 0, set()
    for info in infos:
        rel = member_path(info.filename, archive)
        if rel is None:
            continue
        kind = stat.S_IFMT(info.external_attr >> 16)
        if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
            raise _special(archive, info.filename)
        if info.flag_bits & 0x1:
            raise ArchiveRefused(_("Archive « %(a)s », élément « %(m)s » : chiffré (protégé par un mot de passe), "
                                   "impossible à publier.") % {"a": archive, "m": info.filename})
        if info.compress_type not in ZIP_METHODS:
            raise ArchiveRefused(_("Archive « %(a)s », élément « %(m)s » : méthode de compression non prise en "
                                   "charge (n° %(c)s, par exemple Deflate64) ; refaites l'archive en .zip standard "
                                   "ou en .tar.gz.") % {"a": archive, "m": info.filename, "c": info.compress_type})
        declared += info.file_size
        if declared > max_bytes():
            raise _too_big(archive, info.filename)
        if not info.is_dir():
            if rel in seen:
                raise ArchiveRefused(_("Archive « %(a)s », élément « %(m)s » : présent deux fois.")
                                     % {"a": archive, "m": info.filename})
            seen.add(rel)
        out.append((info, rel))
    return out


# --------------------------------------------------------------------------- extraction (in the job)


def extract(token: str, archive: str, progress=None) -> Path:
    """Extract the upload into its folder and return the folder to publish: the tree, or its only top
    folder when the archive holds just one (a zipped folder). Refusals raise ArchiveRefused."""
    folder = folder_of(token)
    path, tree = folder / ARCHIVE, folder / TREE
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir()
    kind = detect(path, archive)
    size = path.stat().st_size or 1
    if kind == "zip":
        _extract_zip(path, tree, archive, progress)
    else:
        _extract_tar(path, tree, archive, kind, size, progress)
    files = [p for p in tree.rglob("*") if p.is_file()]
    if not files:
        raise ArchiveRefused(_("Archive « %(a)s » : aucun fichier à publier.") % {"a": archive})
    top = list(tree.iterdir())
    return top[0] if len(top) == 1 and top[0].is_dir() else tree


def _target(tree: Path, rel: PurePosixPath, archive: str, member: str, is_dir: bool = False) -> Path:
    """Where a member goes; a file where a folder is needed (or the reverse) is refused."""
    target = tree.joinpath(*rel.parts)
    clash = target.exists() and (target.is_dir() != is_dir or not is_dir)
    for parent in target.parents:
        if parent == tree:
            break
        if parent.is_symlink() or (parent.exists() and not parent.is_dir()):
            clash = True
    if clash:
        raise ArchiveRefused(_("Archive « %(a)s », élément « %(m)s » : un fichier ou un dossier porte déjà ce "
                               "nom dans l'archive.") % {"a": archive, "m": member})
    return target


def _extract_zip(path: Path, tree: Path, archive: str, progress) -> None:
    with open_zip(path, archive) as zf:
        members = check_zip_members(zf, archive)
        total = sum(info.file_size for info, _rel in members) or 1
        done = 0
        for info, rel in members:
            target = _target(tree, rel, archive, info.filename, info.is_dir())
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            written = 0
            try:
                with zf.open(info) as src, open(target, "wb") as out:
                    while chunk := src.read(CHUNK):
                        written += len(chunk)
                        done += len(chunk)
                        if written > info.file_size:  # more than announced: a lying header (zip bomb)
                            raise ArchiveRefused(_("Archive « %(a)s », élément « %(m)s » : plus gros qu'annoncé.")
                                                 % {"a": archive, "m": info.filename})
                        if done > max_bytes():
                            raise _too_big(archive, info.filename)
                        out.write(chunk)
                        if progress:
                            progress(min(done, total), total, info.filename)
            except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError, RuntimeError) as exc:
                raise ArchiveRefused(_("Archive « %(a)s », élément « %(m)s » illisible : %(e)s.")
                                     % {"a": archive, "m": info.filename, "e": exc}) from exc


def _extract_tar(path: Path, tree: Path, archive: str, kind: str, size: int, progress) -> None:
    with open(path, "rb") as raw:
        stream = raw
        if kind == "zst":
            stream = zstandard.ZstdDecompressor().stream_reader(raw)
        count, total = 0, 0
        member_name = ""
        try:
            with tarfile.open(fileobj=stream, mode="r|*") as tf:
                for member in tf:
                    member_name = member.name
                    count += 1
                    if count > max_files():
                        raise _too_many(archive)
                    rel = member_path(member.name, archive)
                    if rel is None:
                        continue
                    if not (member.isreg() or member.isdir()) or member.issparse():
                        raise _special(archive, member.name)
                    total += member.size
                    if total > max_bytes():
                        raise _too_big(archive, member.name)
                    target = _target(tree, rel, archive, member.name, member.isdir())
                    if member.isdir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    member.name = rel.as_posix()  # normalised (no './', no backslash)
                    try:
                        tf.extract(member, tree, filter="data")
                    except tarfile.FilterError as exc:
                        raise ArchiveRefused(_("Archive « %(a)s », élément « %(m)s » refusé : %(e)s.")
                                             % {"a": archive, "m": member_name, "e": exc}) from exc
                    if target.is_symlink() or target.stat().st_size != member.size:
                        raise ArchiveRefused(_("Archive « %(a)s », élément « %(m)s » : taille différente de "
                                               "celle annoncée.") % {"a": archive, "m": member_name})
                    if progress:
                        progress(min(raw.tell(), size), size, member_name)
        except ArchiveRefused:
            raise
        except (tarfile.TarError, zstandard.ZstdError, EOFError, OSError, ValueError) as exc:
            where = (_("après l'élément « %(m)s »") % {"m": member_name}) if member_name else _("au début")
            if kind == "zst" and not member_name:
                where = _("au début (contenu zstd qui n'est pas une archive tar ?)")
            raise ArchiveRefused(_("Archive « %(a)s » illisible ou tronquée %(where)s : %(e)s.")
                                 % {"a": archive, "where": where, "e": exc}) from exc
