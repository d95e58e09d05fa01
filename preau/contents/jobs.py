"""Background job kinds of the contents service: publishing a release (from a server folder or an uploaded
archive, see uploads.py) and building a tour's USB bundle."""

from django.utils.translation import gettext as _

from preau.core import jobs
from preau.core.jobs import JobError, job_kind


def enqueue_publish(user, collection, *, notes: str = "", src_dir: str = "", upload: str = "", archive: str = ""):
    """The publish job of the web form and of the API: a server folder (src_dir, already checked) or an
    upload (its token from uploads.receive and the archive's name)."""
    params = {"collection": collection.pk, "notes": notes,
              "title": _("Publication : %(c)s") % {"c": collection.name},
              "result_template": "contents/_publish_result.html"}
    if upload:
        params.update(upload=upload, archive=archive)
    else:
        params["src_dir"] = src_dir
    return jobs.enqueue("contents.publish", params, user=user)


@job_kind("contents.publish")
def run_publish(params: dict, progress, user) -> dict:
    from . import services, uploads
    from .models import Collection

    collection = Collection.objects.get(pk=params["collection"])
    upload = params.get("upload")

    def on_event(event: dict) -> None:
        if event.get("total"):
            progress(int(event.get("done", 0)), int(event["total"]), event.get("file") or event.get("phase", ""))

    try:
        if upload:
            src = uploads.extract(upload, params.get("archive", ""),
                                  progress=lambda d, t, m: progress(d, t, _("Extraction : %(m)s") % {"m": m}))
        else:
            src = params["src_dir"]
        release = services.publish(user, collection, src, notes=params.get("notes", ""), progress=on_event)
    except services.ContentsError as exc:
        raise JobError(str(exc)) from exc
    finally:
        if upload:
            uploads.discard(upload)  # success, refusal, failure or cancel: the upload goes
    if release is None:
        return {"changed": False, "message": "Contenu identique à la dernière version : rien de publié."}
    return {"changed": True, "collection": collection.slug, "version": release.version,
            "new_bytes": release.new_bytes, "total_bytes": release.total_bytes}


@job_kind("contents.tour_bundle")
def run_tour_bundle(params: dict, progress, user) -> dict:
    """One USB bundle for a tour (preau.contents.tours.build_bundle); cancel-safe (temporary folder)."""
    from . import services, tours
    from .models import Tour

    tour = Tour.objects.get(pk=params["tour"])

    def on_event(event: dict) -> None:
        if event.get("total"):
            progress(int(event.get("done", 0)), int(event["total"]), event.get("phase", ""))

    try:
        return tours.build_bundle(tour, progress=on_event)
    except services.ContentsError as exc:
        raise JobError(str(exc)) from exc
