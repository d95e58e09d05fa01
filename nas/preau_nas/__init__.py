"""Préau content engine and NAS agent. Must never import Django.

Public API (all functions take ``progress=callable(event: dict)`` where they
run long; see progress.py for the event shape)::

    preau_nas.keygen(path) -> public key (base64)
    preau_nas.publish(store, collection, src_dir, key, *, expires_days=90, force=False, progress=None) -> dict
    preau_nas.init_node(root, node_id, trusted_keys, *, base_url=None, collections=(), limit_rate=None, windows=()) -> Node
    preau_nas.pull(root, collections=None, *, base_url=None, jobs=None, limit_rate=None, windows=None, progress=None) -> dict
    preau_nas.bundle.build(store, out_dir, key, *, collections=None, from_versions=None, level=19, progress=None) -> dict
    preau_nas.bundle.apply(root, bundle_dir, *, progress=None) -> dict
    preau_nas.read_receipts(bundle_dir, known_nodes) -> dict
    preau_nas.verify(root, collections=None, *, full=False, progress=None) -> dict
    preau_nas.status(root) -> dict
    preau_nas.enrol(root, server_url, code, *, agent_version=__version__) -> Node
    preau_nas.check_in(root) -> dict                                  # offers {slug: {version, manifest}}
    preau_nas.run(root, *, once=False, interval=900) -> dict          # the agent's service loop
"""

from . import bundle
from .agent import check_in, enrol, run, run_once
from .errors import NasError
from .keys import Keypair
from .node import Node
from .publish import publish
from .pull import pull
from .receipt import read_receipts
from .verify import verify

__version__ = "0.1.0"


def keygen(path) -> str:
    """Create an Ed25519 key at ``path`` (secret, mode 0600) and ``path.pub``; return the public key."""
    kp = Keypair.generate()
    kp.save(path)
    return kp.public


def init_node(root, node_id, trusted_keys, **kw) -> Node:
    return Node.init(root, node_id, trusted_keys, **kw)


def status(root) -> dict:
    return Node(root).status()


__all__ = ["NasError", "Node", "bundle", "check_in", "enrol", "init_node", "keygen", "publish", "pull", "read_receipts",
           "run", "run_once", "status", "verify"]
