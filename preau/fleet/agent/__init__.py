"""Inventories sent by real agents (FusionInventory Agent 2.x, GLPI Agent): read, understand, match, apply.

- payload.py: the raw HTTP body -> bytes of XML or JSON (size limit, zlib/gzip, zip bombs)
- identity.py: which serials, UUIDs and MAC addresses can identify a machine
- parse.py: FusionInventory (OCS XML) and GLPI Agent (JSON) -> one `Message` / `Inventory`
- intake.py: match an inventory to an asset, update it or queue it (one transaction)
- placement.py: a human places a queued device (creates the asset through preau.fleet.services)

The HTTP side (the agent endpoint and the queue pages) is preau/fleet/views_intake.py;
the exchange and the rules are described in docs/fleet-agents.md.
"""
