#!/usr/bin/env python3
"""Seeds the fuzz corpora from the project's test data: origins, patterns, header lists, MIME
types and ranges, policy documents, and simulate scenarios. Idempotent; writes fuzz/corpus/."""
import glob
import hashlib
import json
import os
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def header_values(pairs, names):
    for pair in pairs:
        if isinstance(pair, list) and len(pair) == 2 and pair[0].lower() in names:
            yield pair[1]


# The request/response vectors.
for path in glob.glob(os.path.join(ROOT, "crates/crossgate-vectors/vectors/*.json")):
    with open(path) as f:
        doc = json.load(f)
    for suite in doc["suites"]:
        for p in suite["policy"].get("allow_origins", []):
            put("pattern", p)
        put("config", b"\x01" + json.dumps(suite["policy"]).encode())
        for case in suite["cases"]:
            headers = case["request"]["headers"]
            for v in header_values(headers, {"origin"}):
                put("origin", v)
            for v in header_values(headers, {"access-control-request-headers"}):
                put("list", v)

# The validation table: each case's policy as TOML and as JSON.
with open(os.path.join(ROOT, "crates/crossgate/tests/data/validation.toml"), "rb") as f:
    table = tomllib.load(f)
for case in table.get("case", []):
    config = case.get("config", {})
    put("config", b"\x01" + json.dumps(config).encode())
    for p in config.get("allow_origins", []) if isinstance(config.get("allow_origins"), list) else []:
        if isinstance(p, str):
            put("pattern", p)

# The agent scenarios.
with open(os.path.join(ROOT, "crates/crossgate/tests/data/agent/scenarios.json")) as f:
    scenarios = json.load(f)
def case_scenarios(case):
    """A case's scenario, or each step of its sequence as a scenario of its own."""
    if "scenario" in case:
        return [case["scenario"]]
    seq = case["sequence"]
    return [{"origin": seq["origin"], "request": st["request"], "responses": st.get("responses", {})}
            for st in seq["steps"]]
for s in (s for case in scenarios["cases"] for s in case_scenarios(case)):
    put("simulate", json.dumps(s))
    put("origin", s["origin"])
    put("origin", s["request"]["url"])
    for v in header_values(s["request"]["headers"], {"content-type", "range", "accept"}):
        put("mime_range", v)
    responses = s.get("responses", {})
    for kind in ("preflight", "actual"):
        r = responses.get(kind)
        for one in (r if isinstance(r, list) else [r] if r else []):
            for v in header_values(one["headers"], {"access-control-allow-methods", "access-control-allow-headers",
                                                   "access-control-expose-headers"}):
                put("list", v)

# Console messages the real engines printed (crossgate explain's input), one per seed, and a
# few pasted together.
for path in glob.glob(os.path.join(ROOT, "crates/crossgate/tests/data/paste/real_*.json")):
    with open(path) as f:
        doc = json.load(f)
    together = []
    for m in doc["messages"]:
        text = "\n".join(m["lines"])
        put("paste", text)
        together.append(text)
    put("paste", "\n".join(together[:5]))

# har: the hand-written logs in each engine's shape and the real engines' excerpts.
with open(os.path.join(ROOT, "crates/crossgate/tests/data/har/cases.json")) as f:
    for case in json.load(f)["cases"]:
        put("har", json.dumps(case["har"]))
for path in glob.glob(os.path.join(ROOT, "crates/crossgate-cli/tests/data/har/*.har")):
    with open(path) as f:
        put("har", f.read())

print("seeded", {t: len(os.listdir(os.path.join(CORPUS, t))) for t in sorted(os.listdir(CORPUS))})
