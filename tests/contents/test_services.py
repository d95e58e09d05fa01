"""Contents service: collections, publishing through the real engine, subscriptions, NAS enrolment and
check-ins (replay, revocation, deliveries counted once)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from preau.contents import services
from preau.contents.models import Delivery, NasNode, Subscription

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _store(settings, tmp_path):
    settings.PREAU_CONTENT_STORE = str(tmp_path / "store")
    settings.PREAU_CONTENT_KEY = str(tmp_path / "keys" / "publisher.key")


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "src"
    (root / "cycle2").mkdir(parents=True)
    (root / "cycle2" / "lecture.txt").write_text("Il était une fois… " * 200)
    (root / "video.bin").write_bytes(bytes(range(256)) * 4000)
    return root


def test_collection_publish_and_withdraw(cast, tree):
    collection = services.do_create_collection(cast.admin, slug="cycle2", name="Ressources cycle 2")
    assert collection.subscriptions.get().scope == Subscription.Scope.ALL
    with pytest.raises(services.ContentsError):
        services.do_create_collection(cast.admin, slug="cycle2", name="Encore")
    first = services.publish(cast.admin, collection, tree, notes="première")
    assert (first.version, first.files) == (1, 2) and first.total_bytes == tree.joinpath("video.bin").stat().st_size \
        + tree.joinpath("cycle2", "lecture.txt").stat().st_size
    assert services.publish(cast.admin, collection, tree) is None  # same content: nothing published
    (tree / "cycle2" / "calcul.txt").write_text("2 + 2 = 4\n")
    second = services.publish(cast.admin, collection, tree)
    assert second.version == 2 and 0 < second.new_bytes < first.new_bytes
    services.do_withdraw_release(cast.admin, second, "erreur dans calcul.txt")
    assert services.current_release(collection) == first
    with pytest.raises(services.ContentsError):
        services.publish(cast.admin, collection, tree / "absent")


def test_subscriptions_choose_the_schools(cast):
    everyone = services.do_create_collection(cast.admin, slug="tous", name="Pour tous")
    local = services.do_create_collection(cast.admin, slug="local", name="Commune A")
    local.subscriptions.all().delete()
    Subscription.objects.create(collection=local, scope=Subscription.Scope.COMMUNE, commune=cast.commune_a)
    assert list(services.collections_for_school(cast.sa1)) == [local, everyone]
    assert list(services.collections_for_school(cast.sb1)) == [everyone]


def test_enrolment_then_check_ins(cast, tree):
    collection = services.do_create_collection(cast.admin, slug="cycle2", name="Ressources cycle 2")
    release = services.publish(cast.admin, collection, tree)
    node, code = services.do_new_enrolment_code(cast.admin, cast.sa1)
    assert node.enrolment_code_hash and code not in node.enrolment_code_hash
    answer = services.enrol(code.lower(), public_key="k" * 44, agent_version="0.1.0")
    assert answer["node_id"] == "nas-0429901j" and answer["trusted_keys"] == [services.publisher_public_key()]
    with pytest.raises(services.AgentRefused):
        services.enrol(code)  # once only
    with pytest.raises(services.AgentRefused) as exc:
        services.authenticate(node.node_id, "wrong")
    assert exc.value.status == 401
    node = services.authenticate(node.node_id, answer["credential"])
    offer = services.check_in(node, seq=1, held={}, disk_free=10**9)
    assert offer["collections"]["cycle2"] == {"version": 1, "manifest": release.manifest}
    services.check_in(node, seq=2, held={"cycle2": 1})
    services.check_in(node, seq=3, held={"cycle2": 1})
    assert Delivery.objects.filter(node=node, release=release, via="online").count() == 1
    with pytest.raises(services.AgentRefused) as exc:
        services.check_in(node, seq=3, held={})  # replayed
    assert exc.value.status == 409
    node.refresh_from_db()
    assert node.held == {"cycle2": 1} and node.last_checkin_seq == 3
    services.do_revoke(cast.admin, node, "NAS volé")
    with pytest.raises(services.AgentRefused):
        services.authenticate(node.node_id, answer["credential"])


def _enrolled(school):
    """The node as the check-in view gets it (authenticate: one query with the school's connectivity)."""
    node, code = services.do_new_enrolment_code(None, school)
    credential = services.enrol(code, public_key="k" * 44)["credential"]
    return lambda: services.authenticate(node.node_id, credential)


def test_mode_is_decided_from_connectivity_and_overridable(cast, tree):
    """Auto: online at a fibre school (sa1), offline without fibre (sb1: ADSL; sa2: unknown). Forced modes win.
    An offline NAS is told so at every check-in, and a version it reports came on a tour's disk: no online
    delivery is counted (the disk's receipt records it, with the tour)."""
    collection = services.do_create_collection(cast.admin, slug="cycle2", name="Ressources cycle 2")
    release = services.publish(cast.admin, collection, tree)
    fibre, adsl, unknown = _enrolled(cast.sa1), _enrolled(cast.sb1), _enrolled(cast.sa2)
    assert services.check_in(fibre(), seq=1, held={})["mode"] == "online"
    assert services.check_in(adsl(), seq=1, held={})["mode"] == "offline"
    assert services.check_in(unknown(), seq=1, held={})["mode"] == "offline"
    services.check_in(adsl(), seq=2, held={"cycle2": 1})
    node = adsl()
    assert node.held == {"cycle2": 1} and not Delivery.objects.filter(node=node).exists()
    services.check_in(fibre(), seq=2, held={"cycle2": 1})
    assert Delivery.objects.filter(node=fibre(), release=release, via="online").count() == 1
    # overrides: the fibre school's NAS forced offline, the unknown one forced online
    services.do_set_mode(cast.admin, fibre(), NasNode.Mode.OFFLINE)
    services.do_set_mode(cast.admin, unknown(), NasNode.Mode.ONLINE)
    assert services.check_in(fibre(), seq=3, held={"cycle2": 1})["mode"] == "offline"
    assert services.check_in(unknown(), seq=2, held={})["mode"] == "online"
    # a node read without the connectivity (not through authenticate) gets the same answer
    assert services.check_in(NasNode.objects.get(school=cast.sb1), seq=3, held={"cycle2": 1})["mode"] == "offline"


def test_expired_enrolment_code(cast):
    node, code = services.do_new_enrolment_code(cast.admin, cast.sb1)
    NasNode.objects.filter(pk=node.pk).update(enrolment_expires_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(services.AgentRefused, match="expiré"):
        services.enrol(code)
