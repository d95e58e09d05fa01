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
