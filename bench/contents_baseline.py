"""The ceiling of the check-in benchmark (bench/contents.py): a WSGI application that does what costs nothing in
a check-in (read the JSON body, answer a small JSON object) under the same gunicorn as Préau. Préau's rate
divided by this one's is the share of the machine's HTTP ceiling that Préau keeps."""

import json
from datetime import UTC, datetime


def application(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    data = json.loads(environ["wsgi.input"].read(length) or b"{}")
    body = json.dumps({"collections": {}, "seq": data.get("seq"),
                       "server_time": datetime.now(UTC).isoformat()}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
