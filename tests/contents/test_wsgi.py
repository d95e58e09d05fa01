"""The WSGI entry point sends the NAS agents' endpoints through a lean handler (security middleware only) and
everything else through the full middleware stack."""

import io
import json

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def _call(app, path, method="GET", body=b"", headers=None):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "SERVER_NAME": "testserver", "SERVER_PORT": "80",
               "HTTP_HOST": "testserver", "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)),
               "CONTENT_TYPE": "application/json", "wsgi.url_scheme": "http", "REMOTE_ADDR": "127.0.0.1",
               **(headers or {})}
    seen = {}

    def start_response(status, response_headers, exc_info=None):
        seen["status"], seen["headers"] = status, response_headers

    result = app(environ, start_response)
    content = b"".join(result)
    if hasattr(result, "close"):
        result.close()
    return int(seen["status"].split()[0]), dict(seen["headers"]), content


def test_agent_paths_take_the_lean_handler(settings):
    from preau import wsgi

    assert wsgi.application_agent._middleware_chain is not wsgi.application_full._middleware_chain
    body = json.dumps({"seq": 1, "held": {}}).encode()
    status, headers, content = _call(wsgi.application, "/contenus/agent/checkin/", "POST", body,
                                     {"HTTP_AUTHORIZATION": "Bearer nas-0000000x:wrong"})
    assert status == 401 and "refusés" in json.loads(content)["detail"]
    assert "Vary" not in headers or "Cookie" not in headers["Vary"]  # no session middleware ran
    assert headers.get("X-Frame-Options") is None and headers.get("X-Content-Type-Options") == "nosniff"
    assert int(headers["Content-Length"]) == len(content)
    # a page takes the full stack: language negotiation, clickjacking protection, redirect to the login
    status, headers, _ = _call(wsgi.application, "/assistance/file/")
    assert status == 302 and "/comptes/login/" in headers["Location"]
    assert headers.get("X-Frame-Options") == "DENY" and "Accept-Language" in headers.get("Vary", "")
