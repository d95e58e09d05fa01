"""Room-by-room audit: start in a class, scan (tag or QR URL) and tick, differences, finish; who may do it."""

import pytest
from django.urls import reverse

from preau.fleet import room_audit
from preau.fleet.models import AssetEvent, RoomAudit

pytestmark = pytest.mark.django_db


def test_scanned_tag_accepts_the_label_url_and_plain_tags():
    assert room_audit.scanned_tag("https://preau.example/parc/appareils/SEM-00012/") == "SEM-00012"
    assert room_audit.scanned_tag("  sem-00012 ") == "SEM-00012"


def test_differences_and_finish(fleet, cast):
    audit = room_audit.start(cast.technician, cast.sa1, fleet.class1)
    assert audit.expected == ["SEM-00001", "SEM-00002"]
    room_audit.mark_seen(audit, "SEM-00001")
    room_audit.mark_seen(audit, "http://127.0.0.1:8000/parc/appareils/SEM-00004/")  # recorded in sb1
    room_audit.mark_seen(audit, "XYZ-1")
    audit.refresh_from_db()
    diff = room_audit.differences(audit)
    assert [a.tag for a in diff["present"]] == ["SEM-00001"]
    assert [a.tag for a in diff["missing"]] == ["SEM-00002"]
    assert [a.tag for a in diff["misplaced"]] == ["SEM-00004"]
    assert diff["unknown"] == ["XYZ-1"]
    room_audit.finish(cast.technician, audit)
    assert fleet.proj1.events.filter(kind=AssetEvent.Kind.AUDIT, details__result="missing").exists()
    assert fleet.pc_b.events.filter(kind=AssetEvent.Kind.AUDIT, details__result="misplaced").exists()
    with pytest.raises(ValueError):
        room_audit.mark_seen(audit, "SEM-00002")


def test_director_audits_own_school_through_the_pages(fleet, cast, login):
    client = login(cast.director_sa1)
    assert client.get(reverse("fleet:audits")).status_code == 200
    response = client.post(reverse("fleet:audit-new"), {"school": cast.sa1.uai, "school_class": fleet.class1.pk})
    audit = RoomAudit.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("fleet:audit", args=[audit.pk])
    response = client.post(reverse("fleet:audit", args=[audit.pk]), {"tag": "SEM-00002"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and 'id="differences"' in html and "SEM-00002" in html
    response = client.post(reverse("fleet:audit", args=[audit.pk]), {"tag": "  "}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400 and "Saisissez" in response.content.decode()
    client.post(reverse("fleet:audit", args=[audit.pk]), {"finish": "1"})
    audit.refresh_from_db()
    assert audit.finished_at is not None and audit.seen == ["SEM-00002"]


def test_who_may_not_audit(fleet, cast, login):
    audit = room_audit.start(cast.technician, cast.sa1, fleet.class1)
    # A teacher: no access to audits at all.
    assert login(cast.teacher_sa1).get(reverse("fleet:audits")).status_code == 403
    assert login(cast.teacher_sa1).get(reverse("fleet:audit", args=[audit.pk])).status_code == 403
    # Another school's director: the audit is out of scope (404), and may not start one in sa1 (404).
    other = login(cast.director_sb1)
    assert other.get(reverse("fleet:audit", args=[audit.pk])).status_code == 404
    assert other.post(reverse("fleet:audit-new"), {"school": cast.sa1.uai}).status_code == 404
    # Committee: reads, cannot scan.
    committee = login(cast.committee)
    assert committee.get(reverse("fleet:audit", args=[audit.pk])).status_code == 200
    assert committee.post(reverse("fleet:audit", args=[audit.pk]), {"tag": "SEM-00001"}).status_code == 403
    audit.refresh_from_db()
    assert audit.seen == []
