"""Runs CORScanner (PyPI `corscanner`) on one URL whose host is resolved to 127.0.0.1, and
prints what it found as one JSON object: {"found": [{"type", "origin", "credentials"}]}.

    corscanner_run.py URL

CORScanner builds its probe origins from the URL's host name, so the corpus server is named
`api.example.com` here, as crossgate names it with `-H Host:`; the name is resolved to loopback
in this process only (nothing leaves the machine). CORScanner's own checks run unchanged, all
of them (its command line stops at the first it finds), so that the comparison counts
everything it can find.
"""

# CORScanner patches the standard library with gevent on import; doing it first keeps ssl
# patched too.
from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

# tldextract (CORScanner's suffix list) must not reach the network: its bundled snapshot is used.
import tldextract  # noqa: E402

tldextract.extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None).__call__

from CORScanner.common.corscheck import CORSCheck  # noqa: E402
from CORScanner.common.logger import Log  # noqa: E402

CHECKS = [
    "test_reflect_origin",
    "test_prefix_match",
    "test_suffix_match",
    "test_trust_null",
    "test_include_match",
    "test_not_escape_dot",
    "test_custom_third_parties",
    "test_special_characters_bypass",
    "test_trust_any_subdomain",
    "test_https_trust_http",
]


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: corscanner_run.py URL")
    url = sys.argv[1]
    name = urlsplit(url).hostname
    real = socket.getaddrinfo

    def loopback(host, *args, **kwargs):
        return real("127.0.0.1" if host == name else host, *args, **kwargs)

    socket.getaddrinfo = loopback
    check = CORSCheck(url, {"logger": Log(None, print_level=4), "headers": None})
    found = []
    for test in CHECKS:
        if getattr(check, test)():
            found.append(check.result)
    print(json.dumps({"found": [
        {"type": f["type"], "origin": f["origin"], "credentials": f["credentials"] == "true"}
        for f in found
    ]}))


if __name__ == "__main__":
    main()
