"""Publishing from an uploaded archive: the web form (allowed, denied), the job (extraction then the real engine),
every refusal (traversal, absolute path, links, devices, zip bomb, too many members, not an archive) with nothing
published and the upload folder removed, cancel, and the sweep of uploads whose job will never run."""

import io
import random
import tarfile
import zipfile
from datetime import timedelta
from pathlib import Path

import preau_nas
import pytest
import zstandard
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from preau.contents import jobs as contents_jobs
from preau.contents import services, uploads
from preau.contents.models import Release
from preau.core import jobs
from preau.core.models import Job

pytestmark = pytest.mark.django_db

FILES = {"lecture/conte.txt": "Il était une fois… ".encode() * 200, "image.bin": bytes(range(256)) * 40,
         "vide/.keep": b""}


@pytest.fixture(autouse=True)
def _store(settings, tmp_path, monkeypatch):
    settings.PREAU_CONTENT_STORE = str(tmp_path / "store")
    settings.PREAU_CONTENT_KEY = str(tmp_path / "keys" / "publisher.key")
    settings.PREAU_CONTENT_IMPORT_ROOT = str(tmp_path / "incoming")
    settings.PREAU_CONTENT_UPLOADS = str(tmp_path / "uploads")
    monkeypatch.setenv("PREAU_JOBS_INLINE", "0")  # jobs are run explicitly below
    yield
    cache.clear()  # cancel flags are keyed by job id, and ids come again in the next test


@pytest.fixture
def collection(cast):
    return services.do_create_collection(cast.admin, slug="cycle2", name="Ressources cycle 2")


def make_zip(entries: dict, top: str = "") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(top + name, data)
    return buf.getvalue()


def make_tar(entries: dict, mode: str = "w:gz", extra=()) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for info in extra:
            tf.addfile(info)
    return buf.getvalue()


def upload_dirs(tmp_path) -> list:
    root = tmp_path / "uploads"
    return list(root.iterdir()) if root.exists() else []


def published_files(collection, tmp_path) -> dict:
    """The tree of the collection's latest release, installed from the store by the engine on a fresh NAS."""
    root, disk = tmp_path / "nas-check", tmp_path / "disk-check"
    preau_nas.init_node(root, "nas-check", [services.publisher_public_key()], collections=[collection.slug])
    preau_nas.bundle.build(services.store_path(), disk, services.publisher_key_path())
    preau_nas.bundle.apply(root, disk)
    tree = Path(preau_nas.Node(root).current_tree(collection.slug))
    return {p.relative_to(tree).as_posix(): p.read_bytes() for p in sorted(tree.rglob("*")) if p.is_file()}


def post_upload(client, data: bytes, name: str, notes: str = ""):
    return client.post(reverse("contents:publish-upload", args=["cycle2"]),
                       {"archive": SimpleUploadedFile(name, data), "notes": notes})


def run_only_job() -> Job:
    job = Job.objects.get(kind="contents.publish")
    return jobs.run(job.pk)


# ---------------------------------------------------------------- the good path


@pytest.mark.parametrize("name,build", [
    ("cycle2.zip", lambda: make_zip(FILES)),
    ("cycle2-dossier.zip", lambda: make_zip(FILES, top="cycle2/")),  # a zipped folder: its contents
    ("cycle2.tar.gz", lambda: make_tar(FILES)),
    ("cycle2.tar", lambda: make_tar(FILES, mode="w")),
    ("cycle2.tar.zst", lambda: zstandard.ZstdCompressor().compress(make_tar(FILES, mode="w"))),
])
def test_upload_publishes_the_archive(cast, login, collection, tmp_path, name, build):
    client = login(cast.technician)
    answer = post_upload(client, build(), name, notes="envoi")
    job = Job.objects.get(kind="contents.publish")
    assert answer.status_code == 302 and answer["Location"] == reverse("core:job", args=[job.pk])
    assert job.params["archive"] == name and "src_dir" not in job.params
    assert len(upload_dirs(tmp_path)) == 1
    job = run_only_job()
    assert job.status == Job.Status.DONE, job.error
    release = Release.objects.get(collection=collection)
    assert (release.version, release.notes, release.files, release.published_by) == (1, "envoi", 3, cast.technician)
    assert release.total_bytes == sum(len(v) for v in FILES.values())
    assert published_files(collection, tmp_path) == FILES
    assert upload_dirs(tmp_path) == []  # the upload is gone
    assert "Version 1" in client.get(reverse("core:job", args=[job.pk])).content.decode()


def test_upload_is_written_straight_into_its_folder(cast, login, collection, monkeypatch):
    """The web view's upload handler writes the archive into the upload folder (no copy through /tmp)."""
    seen = []
    real = uploads.receive
    monkeypatch.setattr(uploads, "receive", lambda f: seen.append(type(f)) or real(f))
    assert post_upload(login(cast.admin), make_zip(FILES), "a.zip").status_code == 302
    assert seen == [uploads.ArchiveUpload]


def test_upload_form_on_the_collection_page(cast, login, collection):
    html = login(cast.admin).get(reverse("contents:collection", args=["cycle2"])).content.decode()
    assert 'enctype="multipart/form-data"' in html and reverse("contents:publish-upload", args=["cycle2"]) in html
    html = login(cast.committee).get(reverse("contents:collection", args=["cycle2"])).content.decode()
    assert reverse("contents:publish-upload", args=["cycle2"]) not in html


def test_upload_denied(cast, login, collection, tmp_path, client):
    for user in (cast.committee, cast.director_sa1, cast.workshop):
        assert post_upload(login(user), make_zip(FILES), "a.zip").status_code == 403
    client.logout()
    assert post_upload(client, make_zip(FILES), "a.zip").status_code == 302  # to the login page
    assert post_upload(login(cast.admin), make_zip(FILES), "a.zip").status_code == 302
    assert Job.objects.count() == 1 and upload_dirs(tmp_path) and not Release.objects.exists()
    assert login(cast.admin).post(reverse("contents:publish-upload", args=["absent"]),
                                  {"archive": SimpleUploadedFile("a.zip", make_zip(FILES))}).status_code == 404


# ---------------------------------------------------------------- refusals at the upload (web, 400)


def _symlink_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ok.txt", b"ok")
        info = zipfile.ZipInfo("lien")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


def _patched_zip(entries: dict, flag: int = 0, method: int | None = None) -> bytes:
    """A zip whose members claim to be encrypted (flag bit 0) or compressed with another method (e.g. 9,
    Deflate64), as some archivers write them."""
    data = bytearray(make_zip(entries))
    pos = bytes(data).find(b"PK\x01\x02")
    while pos != -1:
        data[pos + 8] |= flag
        if method is not None:
            data[pos + 10:pos + 12] = method.to_bytes(2, "little")
        pos = bytes(data).find(b"PK\x01\x02", pos + 4)
    return bytes(data)


@pytest.mark.parametrize("name,data,expected", [
    ("chiffre.zip", _patched_zip({"secret.txt": b"x"}, flag=1), "« secret.txt » : chiffré"),
    ("deflate64.zip", _patched_zip({"gros.bin": b"x"}, method=9), "« gros.bin » : méthode de compression non prise"),
    ("texte.zip", b"ceci n'est pas une archive" * 30, "n&#x27;est pas une archive reconnue"),
    ("evade.zip", make_zip({"ok.txt": b"ok", "../../evade.txt": b"x"}), "« ../../evade.txt » : « .. » refusé"),
    ("absolu.zip", make_zip({"/etc/cron.d/x": b"x"}), "« /etc/cron.d/x » : chemin absolu refusé"),
    ("lien.zip", _symlink_zip(), "« lien » : liens et fichiers spéciaux refusés"),
    ("casse.zip", b"PK\x03\x04" + b"\x00" * 100, "illisible"),
])
def test_bad_zip_refused_at_once(cast, login, collection, tmp_path, name, data, expected):
    answer = post_upload(login(cast.admin), data, name)
    html = answer.content.decode()
    assert answer.status_code == 400 and expected in html and name in html, html[-3000:]
    assert not Job.objects.exists() and not Release.objects.exists()
    assert upload_dirs(tmp_path) == []


def test_zip_bomb_refused_by_declared_size(cast, login, collection, tmp_path, settings):
    settings.PREAU_CONTENT_UPLOAD_MAX_BYTES = 100_000
    bomb = make_zip({"a.bin": b"\x00" * 60_000, "b.bin": b"\x00" * 60_000})
    assert len(bomb) < 2000
    answer = post_upload(login(cast.admin), bomb, "bombe.zip")
    html = answer.content.decode()
    assert answer.status_code == 400 and "« b.bin » : le contenu dépasse " + uploads.human(100_000) in html
    assert upload_dirs(tmp_path) == [] and not Job.objects.exists()


def test_upload_itself_too_big(cast, login, collection, tmp_path, settings):
    settings.PREAU_CONTENT_UPLOAD_MAX_BYTES = 1000
    answer = post_upload(login(cast.admin), make_tar({"x.bin": bytes(range(256)) * 40}, mode="w"), "gros.tar")
    assert answer.status_code == 400 and f"plus de {uploads.human(1000)}, la limite des envois" in answer.content.decode()
    assert upload_dirs(tmp_path) == [] and not Job.objects.exists()


# ---------------------------------------------------------------- refusals in the job (tar: streamed)


def _link(name, kind, target="/etc/passwd"):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


@pytest.mark.parametrize("data,expected", [
    (make_tar({"ok.txt": b"ok", "../evade.txt": b"x"}), "« ../evade.txt » : « .. » refusé"),
    (make_tar({"/tmp/absolu.txt": b"x"}), "« /tmp/absolu.txt » : chemin absolu refusé"),
    (make_tar({"ok.txt": b"ok"}, extra=[_link("lien", tarfile.SYMTYPE)]), "« lien » : liens et fichiers spéciaux"),
    (make_tar({"ok.txt": b"ok"}, extra=[_link("dur", tarfile.LNKTYPE, "ok.txt")]), "« dur » : liens et fichiers"),
    (make_tar({"ok.txt": b"ok"}, extra=[_link("tty", tarfile.CHRTYPE, "")]), "« tty » : liens et fichiers"),
    (make_tar({"ok.txt": b"ok"}, extra=[_link("fifo", tarfile.FIFOTYPE, "")]), "« fifo » : liens et fichiers"),
    (make_tar({"ok.bin": random.Random(1).randbytes(5000)})[:1000], "illisible ou tronquée"),
    (b"\x1f\x8b" + b"\x00" * 200, "illisible ou tronquée"),
    (zstandard.ZstdCompressor().compress(b"pas un tar" * 100), "illisible"),
    (make_tar({}), "aucun fichier à publier"),
])
def test_bad_tar_refused_by_the_job(cast, login, collection, tmp_path, data, expected):
    client = login(cast.admin)
    assert post_upload(client, data, "mauvais.tar.gz").status_code == 302
    job = run_only_job()
    assert job.status == Job.Status.FAILED and expected in job.error and "« mauvais.tar.gz »" in job.error, job.error
    assert not Release.objects.exists() and not (tmp_path / "evade.txt").exists()
    assert upload_dirs(tmp_path) == []
    assert not list(services.store_path().glob("**/*.manifest*"))


def test_tar_bomb_refused_by_size(cast, login, collection, tmp_path, settings):
    settings.PREAU_CONTENT_UPLOAD_MAX_BYTES = 50_000
    data = make_tar({"a.bin": b"\x00" * 30_000, "b.bin": b"\x00" * 30_000})
    assert len(data) < 2000
    assert post_upload(login(cast.admin), data, "bombe.tar.gz").status_code == 302
    job = run_only_job()
    assert job.status == Job.Status.FAILED and "« b.bin » : le contenu dépasse" in job.error
    assert not Release.objects.exists() and upload_dirs(tmp_path) == []


def test_too_many_members(cast, login, collection, tmp_path, settings):
    settings.PREAU_CONTENT_UPLOAD_MAX_FILES = 5
    many = {f"f{i}.txt": b"x" for i in range(6)}
    answer = post_upload(login(cast.admin), make_zip(many), "nombreux.zip")
    assert answer.status_code == 400 and "plus de 5 éléments" in answer.content.decode()
    assert post_upload(login(cast.admin), make_tar(many), "nombreux.tar.gz").status_code == 302
    job = run_only_job()
    assert job.status == Job.Status.FAILED and "plus de 5 éléments" in job.error
    assert upload_dirs(tmp_path) == [] and not Release.objects.exists()


def test_zip_lying_about_its_size(cast, collection, tmp_path):
    """A member whose header announces less than it holds (the zip-bomb trick) is refused while extracting."""
    data = bytearray(make_zip({"menteur.bin": b"A" * 5000}))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo("menteur.bin")
    # Patch the announced size in the central directory (and the local header) down to 10 bytes.
    central = bytes(data).rfind(b"PK\x01\x02")
    data[central + 24:central + 28] = (10).to_bytes(4, "little")
    data[info.header_offset + 22:info.header_offset + 26] = (10).to_bytes(4, "little")
    token, folder = uploads.new_folder()
    (folder / uploads.ARCHIVE).write_bytes(bytes(data))
    with pytest.raises(uploads.ArchiveRefused, match="menteur.bin"):
        uploads.extract(token, "menteur.zip")


# ---------------------------------------------------------------- cancel and sweep


def test_cancel_during_extraction_removes_the_upload(cast, login, collection, tmp_path):
    post_upload(login(cast.admin), make_zip(FILES), "a.zip")
    job = Job.objects.get()

    def cancel(done, total, message):
        raise jobs.Cancelled()

    with pytest.raises(jobs.Cancelled):
        contents_jobs.run_publish(job.params, cancel, cast.admin)
    assert upload_dirs(tmp_path) == [] and not Release.objects.exists()


def test_sweep_removes_uploads_whose_job_will_not_run(cast, login, collection, tmp_path):
    client = login(cast.admin)
    post_upload(client, make_zip(FILES), "a.zip")
    post_upload(client, make_zip(FILES), "b.zip")
    cancelled, queued = Job.objects.order_by("pk")
    jobs.cancel(cancelled)  # cancelled while queued: its function never runs
    orphan = tmp_path / "uploads" / "orphelin"
    orphan.mkdir()
    assert uploads.sweep(min_age=timedelta(0)) == 2
    assert [p.name for p in upload_dirs(tmp_path)] == [queued.params["upload"]]
    assert jobs.run(queued.pk).status == Job.Status.DONE
    assert upload_dirs(tmp_path) == []


def test_member_path():
    assert str(uploads.member_path("./a/./b.txt", "x")) == "a/b.txt"
    assert str(uploads.member_path("a\\b.txt", "x")) == "a/b.txt"
    assert uploads.member_path("__MACOSX/._a", "x") is None
    for bad in ("..", "a/../../b", "C:/Windows/x", "\\\\serveur\\x", "/a"):
        with pytest.raises(uploads.ArchiveRefused):
            uploads.member_path(bad, "x")


def test_file_and_folder_with_the_same_name_refused(cast, login, collection, tmp_path):
    assert post_upload(login(cast.admin), make_tar({"a": b"fichier", "a/b.txt": b"x"}), "conflit.tar").status_code == 302
    job = run_only_job()
    assert job.status == Job.Status.FAILED and "« a/b.txt » : un fichier ou un dossier porte déjà ce nom" in job.error
    assert upload_dirs(tmp_path) == [] and not Release.objects.exists()


def test_web_upload_checks_csrf_and_leaves_nothing(cast, collection, tmp_path):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.admin)
    url = reverse("contents:publish-upload", args=["cycle2"])
    assert client.post(url, {"archive": SimpleUploadedFile("a.zip", make_zip(FILES))}).status_code == 403
    assert upload_dirs(tmp_path) == [] and not Job.objects.exists()
    token = "b" * 32
    client.cookies["csrftoken"] = token
    answer = client.post(url, {"archive": SimpleUploadedFile("a.zip", make_zip(FILES)), "csrfmiddlewaretoken": token})
    assert answer.status_code == 302 and Job.objects.count() == 1


def test_sweep_spares_an_upload_still_arriving(tmp_path):
    import os
    import time

    token, folder = uploads.new_folder()
    (folder / uploads.ARCHIVE).write_bytes(b"...")
    old = time.time() - 7200
    os.utime(folder, (old, old))  # the folder is two hours old, its archive was just written to
    assert uploads.sweep() == 0 and folder.is_dir()
    os.utime(folder / uploads.ARCHIVE, (old, old))
    assert uploads.sweep() == 1 and not folder.exists()


def test_interrupted_upload_leaves_nothing(tmp_path, rf):
    handler = uploads.ArchiveUploadHandler(rf.post("/"))
    with pytest.raises(Exception) as raised:
        handler.new_file("archive", "a.zip", "application/zip", 100)
    assert type(raised.value).__name__ == "StopFutureHandlers"
    handler.receive_data_chunk(b"PK\x03\x04" + b"\x00" * 10, 0)
    assert len(upload_dirs(tmp_path)) == 1
    handler.upload_interrupted()
    assert upload_dirs(tmp_path) == []
