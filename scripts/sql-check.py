#!/usr/bin/env python3
"""The SQL layout check (run by tests/integration/sql_layout.sh in `make test`).

Fails (exit 1, one line per problem) when
  - a function (schema + name + argument types) is defined in two files, or twice in one file,
    under services/*/sql, services/*/migrations and common/sql (families included);
  - a numbered migration (common/sql/NNN_*.sql, services/*/migrations/NNN_*.sql) defines a
    function: its one definition belongs in a family file (scripts/sql-fold.py moves it there).

common/sql is applied into every service's schema, so its functions count once per service
schema: a service defining a function of the same name and argument types as the runtime
is a duplicate too. A common family file whose first line is "-- schemas: a b" is applied (and
counted) only in those schemas.
"""

import glob
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sqlparse  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def defs(path):
    out = []
    for c in sqlparse.split(open(path).read()):
        d = sqlparse.function_def(c)
        if d:
            out.append(sqlparse.ident(d[0], d[1]))
    return out


def schemas_of(path):
    """The schemas a common file is for: those its "-- schemas:" first line names, else all (None)."""
    with open(path) as fh:
        first = fh.readline()
    if first.startswith("-- schemas:"):
        return set(first[len("-- schemas:"):].split())
    return None


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else ROOT
    problems = []
    common = sorted(glob.glob(os.path.join(root, "common/sql/**/*.sql"), recursive=True))
    services = sorted(d for d in glob.glob(os.path.join(root, "services/*")) if os.path.isdir(d))
    seen_common = {}
    only = {}  # common file -> the schemas it is for (files with a "-- schemas:" line)
    for f in common:
        if schemas_of(f) is not None:
            only[f] = schemas_of(f)
        for i in defs(f):
            seen_common.setdefault(i, []).append(f)
    per_schema = []
    for svc in services:
        files = sorted(glob.glob(os.path.join(svc, "migrations/*.sql")) + glob.glob(os.path.join(svc, "sql/*.sql")))
        if not files:
            continue
        name = os.path.basename(svc)
        seen = {}
        for k, v in seen_common.items():
            v = [f for f in v if f not in only or name in only[f]]
            if v:
                seen[k] = v
        for f in files:
            for i in defs(f):
                seen.setdefault(i, []).append(f)
        per_schema.append((os.path.basename(svc), seen))
    if not per_schema:
        per_schema.append(("common", seen_common))
    reported = set()
    for schema, seen in per_schema:
        for ident, files in sorted(seen.items()):
            if len(files) > 1:
                rel = tuple(os.path.relpath(f, root) for f in files)
                if (ident, rel) in reported:
                    continue
                reported.add((ident, rel))
                problems.append("%s.%s is defined %d times: %s" % (schema, ident, len(files), ", ".join(rel)))
    for f in common + sorted(glob.glob(os.path.join(root, "services/*/migrations/*.sql"))):
        if not re.match(r"^\d+_", os.path.basename(f)) or "/families/" in f:
            continue
        for ident in defs(f):
            problems.append("%s: a numbered migration defines %s (move it to a family file: scripts/sql-fold.py)"
                            % (os.path.relpath(f, root), ident))
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
