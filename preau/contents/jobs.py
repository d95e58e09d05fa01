"""Background job kinds of the contents service: publishing a release from a server folder."""

from preau.core.jobs import JobError, job_kind


@job_kind("contents.publish")
def run_publish(params: dict, progress, user) -> dict:
    from . import services
    from .models import Collection

    collection = Collection.objects.get(pk=params["collection"])

    def on_event(event: dict) -> None:
        if event.get("total"):
            progress(int(event.get("done", 0)), int(event["total"]), event.get("file") or event.get("phase", ""))

    try:
        release = services.publish(user, collection, params["src_dir"], notes=params.get("notes", ""),
                                   progress=on_event)
    except services.ContentsError as exc:
        raise JobError(str(exc)) from exc
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
