"""One app behind a real Python CORS middleware, configured as its documentation and the
most-read answers show, served on 127.0.0.1 (port 0). Prints the port on the first line of
standard output, then serves until killed.

    python_app.py flask|starlette|django CONFIG

The configurations are named in tests/middleware/corpus.toml; an unknown one is an error.
Every route answers `GET` with `200 ok` and a session cookie, as an application behind a login
would.
"""

import socket
import sys

# The explicit lists: the front end's origin and the API's own.
TRUSTED = ["http://app.example.com", "http://api.example.com"]
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE"]


def pick(framework, options, config):
    if config not in options:
        raise SystemExit(f"unknown {framework} config {config!r}")
    return options[config]


def flask_app(config):
    from flask import Flask, make_response
    from flask_cors import CORS

    app = Flask(__name__)

    @app.route("/", defaults={"path": ""}, methods=METHODS)
    @app.route("/<path:path>", methods=METHODS)
    def page(path):
        response = make_response("ok")
        response.set_cookie("session", "s3cr3t", httponly=True, samesite="None", secure=True)
        return response

    options = {
        # The README's first example.
        "default": {},
        # "Allow everything, with cookies": the most-read answer's fix for credentials.
        "credentials": {"supports_credentials": True},
        # A literal `*` instead of the echoed origin (send_wildcard).
        "wildcard": {"send_wildcard": True},
        # Subdomains by regex, as the documentation shows (flask-cors matches with re.match).
        "regex": {"origins": [r"http://.*\.example\.com"], "supports_credentials": True},
        "regex-anchored": {
            "origins": [r"^http://[a-z0-9-]+\.example\.com$"],
            "supports_credentials": True,
        },
        "list": {
            "origins": TRUSTED,
            "supports_credentials": True,
        },
    }
    CORS(app, **pick("flask", options, config))
    return ("wsgi", app)


def starlette_app(config):
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.cors import CORSMiddleware
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def page(request):
        response = PlainTextResponse("ok")
        response.set_cookie("session", "s3cr3t", httponly=True, samesite="none", secure=True)
        return response

    everything = {"allow_methods": ["*"], "allow_headers": ["*"]}
    options = {
        # CORSMiddleware with no arguments: nothing is allowed.
        "default": {},
        # FastAPI's tutorial, with "*" in place of the list: the most copied CORS setup in
        # Python.
        "allow-all-credentials": {"allow_origins": ["*"], "allow_credentials": True, **everything},
        "allow-all": {"allow_origins": ["*"], **everything},
        # allow_origin_regex is matched with fullmatch.
        "regex": {
            "allow_origin_regex": r"http://.*\.example\.com",
            "allow_credentials": True,
            **everything,
        },
        "list": {
            "allow_origins": TRUSTED,
            "allow_credentials": True,
            **everything,
        },
    }
    chosen = pick("starlette", options, config)
    routes = [Route("/{path:path}", page, methods=METHODS)]
    app = Starlette(routes=routes, middleware=[Middleware(CORSMiddleware, **chosen)])
    return ("asgi", app)


def django_app(config):
    from django.conf import settings

    options = {
        # corsheaders installed with no setting: no origin is allowed.
        "default": {},
        "allow-all": {"CORS_ALLOW_ALL_ORIGINS": True},
        "allow-all-credentials": {"CORS_ALLOW_ALL_ORIGINS": True, "CORS_ALLOW_CREDENTIALS": True},
        # The documentation's regex example, anchored at both ends.
        "regex": {
            "CORS_ALLOWED_ORIGIN_REGEXES": [r"^http://\w+\.example\.com$"],
            "CORS_ALLOW_CREDENTIALS": True,
        },
        # The same without anchors (matched with re.match: only the start is anchored).
        "regex-unanchored": {
            "CORS_ALLOWED_ORIGIN_REGEXES": [r"http://.*\.example\.com"],
            "CORS_ALLOW_CREDENTIALS": True,
        },
        "list": {
            "CORS_ALLOWED_ORIGINS": TRUSTED,
            "CORS_ALLOW_CREDENTIALS": True,
        },
    }
    chosen = pick("django", options, config)
    settings.configure(
        DEBUG=False,
        SECRET_KEY="crossgate-test-corpus",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=["corsheaders"],
        MIDDLEWARE=["corsheaders.middleware.CorsMiddleware", "django.middleware.common.CommonMiddleware"],
        **chosen,
    )
    import django
    from django.core.wsgi import get_wsgi_application

    django.setup()
    return ("wsgi", get_wsgi_application())


def django_page(request, path=""):
    from django.http import HttpResponse

    response = HttpResponse("ok")
    response.set_cookie("session", "s3cr3t", httponly=True, samesite="None", secure=True)
    return response


def __getattr__(name):
    # Django reads urlpatterns from ROOT_URLCONF (this module) on first request.
    if name == "urlpatterns":
        from django.urls import re_path

        return [re_path(r"^(?P<path>.*)$", django_page)]
    raise AttributeError(name)


def serve(kind, app):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    print(sock.getsockname()[1], flush=True)
    if kind == "wsgi":
        from werkzeug.serving import make_server

        server = make_server("127.0.0.1", 0, app, threaded=True, fd=sock.fileno())
        server.serve_forever()
    else:
        import uvicorn

        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        uvicorn.Server(config).run(sockets=[sock])


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: python_app.py flask|starlette|django CONFIG")
    framework, config = sys.argv[1], sys.argv[2]
    builders = {"flask": flask_app, "starlette": starlette_app, "django": django_app}
    if framework not in builders:
        raise SystemExit(f"unknown framework {framework!r}")
    serve(*builders[framework](config))


if __name__ == "__main__":
    main()
