#!/usr/bin/env python3
"""asctl's declared verbs against the route table's document (docs/api/openapi.yaml, generated
from the gateway's route table): every ASCTL_CALL row of services/asctl/cmd_*.c names a method and
path the gateway serves, each of its query options a query parameter of that route, and each of
its body options a field of that route's request body. Prints one TAP line per verb and exits 1
when any does not hold.

    scripts/asctl-routes.py [ROOT]
"""
import glob
import os
import re
import sys

import yaml

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")


def c_arrays(src):
    """static const char *const NAME[] = {"a", "b", …, NULL}; → {NAME: [strings]}"""
    out = {}
    for m in re.finditer(r"const char \*const (\w+)\[\]\s*=\s*\{(.*?)\};", src, re.S):
        out[m.group(1)] = re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(2))
    return out


def calls(src):
    """(noun, verb, method, path, fields) of every ASCTL_CALL row."""
    for m in re.finditer(r"ASCTL_CALL\((.*?)\)\}", src, re.S):
        rows = re.findall(r'\n\s*\{"([\w-]+)",\s*"([\w-]*)",', src[: m.start()])
        noun, verb = rows[-1]
        args = m.group(1)
        method, path = re.findall(r'"([^"]*)"', args)[:2]
        fields = dict(re.findall(r"\.(\w+)\s*=\s*&?([\w\"/%{}-]+)", args))
        yield noun, verb, method, path, fields


def deref(doc, node):
    seen = 0
    while isinstance(node, dict) and "$ref" in node and seen < 20:
        target = doc
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
        seen += 1
    return node


def route_for(doc, path):
    """The document's path for an asctl path ("%s" is one {param} segment)."""
    want = path.split("?")[0].split("/")
    for p in doc["paths"]:
        segs = p.split("/")
        if len(segs) == len(want) and all(
            a == b or (a == "%s" and b.startswith("{")) for a, b in zip(want, segs)
        ):
            return p
    return None


def body_fields(doc, op):
    rb = deref(doc, op.get("requestBody", {}))
    schema = deref(doc, rb.get("content", {}).get("application/json", {}).get("schema", {}))
    props = set(schema.get("properties", {}))
    for sub in schema.get("allOf", []):
        props |= set(deref(doc, sub).get("properties", {}))
    return props


def main():
    doc = yaml.safe_load(open(os.path.join(ROOT, "docs/api/openapi.yaml")))
    n = failed = 0
    for f in sorted(glob.glob(os.path.join(ROOT, "services/asctl/cmd_*.c"))):
        src = open(f).read()
        arrays = c_arrays(src)
        arrays["ASCTL_NO_FIELDS"] = []
        for noun, verb, method, path, fields in calls(src):
            n += 1
            name = f"asctl {noun} {verb}".strip()
            problems = []
            paths = [(method, path)]
            if "one" in fields:
                paths.append(("GET", fields["one"].strip('"')))
            for meth, pth in paths:
                p = route_for(doc, pth)
                op = doc["paths"].get(p, {}).get(meth.lower()) if p else None
                if op is None:
                    problems.append(f"{meth} {pth} is not a route")
            p = route_for(doc, path)
            op = doc["paths"].get(p, {}).get(method.lower()) if p else None
            if op is not None:
                params = {deref(doc, x).get("name") for x in op.get("parameters", [])
                          if deref(doc, x).get("in") == "query"}
                q = arrays.get(fields.get("query", ""), [])
                for opt, qname in zip(q[0::2], q[1::2]):
                    if qname not in params:
                        problems.append(f"{opt} sends ?{qname}=, which {method} {p} does not take")
                props = body_fields(doc, op)
                b = arrays.get(fields.get("body", ""), [])
                keys = [fld.split(".")[0] for fld in b[1::3]]
                if "arg" in fields:
                    keys.append(fields["arg"].strip('"'))
                for key in keys:
                    if key not in props:
                        problems.append(f"body field {key} is not in {method} {p}'s request")
            if problems:
                failed += 1
                print(f"not ok {n} - {name}: " + "; ".join(problems))
            else:
                print(f"ok {n} - {name} ({method} {path})")
    print(f"1..{n}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
