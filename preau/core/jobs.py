"""Background jobs without a broker: a Job row, claimed with a conditional UPDATE.

Each app registers its job kinds with `@job_kind("name")`: a function
`fn(params: dict, progress: Progress, user) -> dict` (the JSON result). It
calls `progress(done, total, message)` as it goes; that call raises
`Cancelled` once someone asked to cancel, so the job's transaction rolls back.

Jobs run in `preau worker` (production) or, when PREAU_JOBS_INLINE is on (the
default in development), in a thread of the web process started at enqueue.
"""

import logging
import os
import threading
import time
import traceback
from collections.abc import Callable

from django.core.cache import cache
from django.db import close_old_connections, transaction
from django.utils import timezone

from .models import Job

log = logging.getLogger(__name__)
Progress = Callable[[int, int, str], None]
_KINDS: dict[str, Callable] = {}


class Cancelled(Exception):
    pass


class JobError(Exception):
    """An expected failure whose message is shown to the user as is (e.g. an import's errors)."""


def job_kind(name: str):
    def register(fn):
        _KINDS[name] = fn
        return fn

    return register


def inline_enabled() -> bool:
    return os.environ.get("PREAU_JOBS_INLINE", "1") not in ("0", "false", "no")


def enqueue(kind: str, params: dict, user=None, start: bool | None = None) -> Job:
    if kind not in _KINDS:
        raise KeyError(f"unknown job kind {kind!r}")
    job = Job.objects.create(kind=kind, params=params, created_by=user if user and user.is_authenticated else None)
    if inline_enabled() if start is None else start:
        transaction.on_commit(lambda: threading.Thread(target=_run_in_thread, args=(job.pk,), daemon=True).start())
    return job


def _run_in_thread(job_id: int) -> None:
    try:
        run(job_id)
    finally:
        close_old_connections()


def claim(job_id: int | None = None) -> Job | None:
    """Take one queued job (this one, or the oldest) for this process; None if another took it."""
    qs = Job.objects.filter(status=Job.Status.QUEUED)
    if job_id is not None:
        qs = qs.filter(pk=job_id)
    candidate = qs.order_by("created_at", "id").values_list("pk", flat=True).first()
    if candidate is None:
        return None
    taken = Job.objects.filter(pk=candidate, status=Job.Status.QUEUED).update(
        status=Job.Status.RUNNING, started_at=timezone.now()
    )
    return Job.objects.get(pk=candidate) if taken else None


def _key(job_id: int) -> str:
    return f"preau:job:{job_id}"


def live_progress(job: Job) -> tuple[int, int, str]:
    """(done, total, message) of a running job, from the cache (its own transaction hides the row)."""
    state = cache.get(_key(job.pk))
    if state:
        return state["done"], state["total"], state["message"]
    return job.done, job.total, job.message


def _progress_for(job: Job) -> Progress:
    """Progress goes to the cache, not to the Job row: the job's writes are one transaction, and
    SQLite would refuse a second writer. Cancel requests are read from the cache too."""
    last = [0.0]

    def progress(done: int, total: int, message: str = "") -> None:
        now = time.monotonic()
        if now - last[0] >= 0.2 or done >= total:
            last[0] = now
            cache.set(_key(job.pk), {"done": done, "total": total, "message": message[:300]}, 24 * 3600)
        if cache.get(_key(job.pk) + ":cancel"):
            raise Cancelled()

    return progress


def run(job_id: int | None = None) -> Job | None:
    job = claim(job_id)
    if job is None:
        return None
    fn = _KINDS[job.kind]
    try:
        result = fn(job.params, _progress_for(job), job.created_by)
    except Cancelled:
        Job.objects.filter(pk=job.pk).update(status=Job.Status.CANCELLED, finished_at=timezone.now(),
                                             message="annulée")
    except JobError as exc:
        Job.objects.filter(pk=job.pk).update(status=Job.Status.FAILED, finished_at=timezone.now(), error=str(exc))
    except Exception as exc:  # noqa: BLE001 — a job must never take its worker down
        log.exception("job %s failed", job.pk)
        Job.objects.filter(pk=job.pk).update(
            status=Job.Status.FAILED, finished_at=timezone.now(),
            error=f"Erreur inattendue : {exc}\n\n{traceback.format_exc(limit=5)}",
        )
    else:
        done, total, _message = live_progress(job)
        Job.objects.filter(pk=job.pk).update(status=Job.Status.DONE, finished_at=timezone.now(), result=result,
                                             done=max(done, total), total=total, message="")
    cache.delete(_key(job.pk))
    job.refresh_from_db()
    return job


def cancel(job: Job) -> None:
    cache.set(_key(job.pk) + ":cancel", True, 24 * 3600)
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    Job.objects.filter(pk=job.pk, status=Job.Status.QUEUED).update(status=Job.Status.CANCELLED,
                                                                   finished_at=timezone.now())
