#!/usr/bin/env python3
"""Fold function definitions out of the numbered migrations into the family files.

    scripts/sql-fold.py [--check] [--root DIR] [UNIT ...]   (UNIT: common, intake, parts, ...)

For each unit (common/sql, services/<svc>/migrations) the script reads the numbered migrations
in version order and every CREATE [OR REPLACE] FUNCTION/PROCEDURE it finds there moves to the
unit's family files (common/sql/families/, services/<svc>/sql/): the LAST definition of each
function (by name and argument types) wins and replaces the text already in a family file, in
place. A function seen for the first time goes to the family file of its other overloads, else
to the family its name picks (FAMILIES below). Triggers created in a migration over a function
that moves go with it (as CREATE OR REPLACE TRIGGER, after the function). A DROP FUNCTION left in
a migration becomes DROP FUNCTION IF EXISTS (on a fresh database the function it dropped was
never created by that migration) and removes the function from its family file unless a later
migration defines it again; the script marks the drops it has handled ("-- folded") so a
re-run does not drop the family text again. A migration left without statements keeps a
comment so its version stays applied.

Re-running it on a folded tree changes nothing. --check changes nothing and exits 1 when a
fold would change a file.
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sqlparse  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Family by function name, first match wins; the last rule of each unit is its default.
FAMILIES = {
    "common": [
        (r"^(audit_write|cmd_list_audit|mask_phone)$", "audit"),
        (r"^(emit|consumer_advance.*|note_consumer_position|prune_runtime)$", "outbox"),
        (r"", "commands"),
    ],
    "intake": [
        (r"loaner", "loaners"),
        (r"^on_", "events"),
        (r"request_parts|request_lines|mark_lines", "parts_requests"),
        (r"^(cmd_open_ticket|cmd_get_ticket|cmd_list_tickets|ticket_json|ticket_for_update"
         r"|may_see|sees_phones|tickets_check_references|payer_of)$", "tickets"),
        (r"", "lifecycle"),
    ],
    "parts": [
        (r"loaner", "loaners"),
        (r"transfer", "transfers"),
        (r"^on_|intake_event|retry_event|emit_reserved|svc_principal", "events"),
        (r"return", "returns"),
        (r"reserv|allocate|backorder|fill_|line_json|close_open_lines|try_allocate|try_reserve"
         r"|ticket_complete|ensure_ticket", "reservations"),
        (r"movement|ledger|stock|valu|^mv$|safety|replenishment|parts_metrics", "stock"),
        (r"sku", "catalogue"),
        (r"", "access"),
    ],
    "people": [
        (r"token|login|password|logout", "auth"),
        (r"center", "centers"),
        (r"brand|region|models", "catalogue"),
        (r"", "users"),
    ],
    "settlement": [
        (r"claim", "claims"),
        (r"period|business_date|today_sh", "periods"),
        (r"refund|pay|invoice", "payments"),
        (r"journal|entry|ledger|balance|stock_accounts|read_costs|stock_valued|export", "ledger"),
        (r"charge|fees|labour|part_price|vat|handling|currency|close_ticket|repair_completed"
         r"|defective", "charges"),
        (r"", "access"),
    ],
    "surveys": [
        (r"callback|phone_for|reply_for", "callbacks"),
        (r"weight|response|satisfaction|report", "satisfaction"),
        (r"^on_", "events"),
        (r"complaint|level|deadline|escalate|severity|window_h|business_add|into_business"
         r"|day_start|next_check|history_add|list_due|list_overdue", "complaints"),
        (r"", "access"),
    ],
    "warranty": [
        (r"policy", "policies"),
        (r"", "decisions"),
    ],
}

HEADER = """-- {unit}: {family} functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)
"""

_TRIGGER = re.compile(
    r"^\s*CREATE\s+(OR\s+REPLACE\s+)?(CONSTRAINT\s+)?TRIGGER\s+(\w+)(.*?)EXECUTE\s+(?:FUNCTION|PROCEDURE)\s+(\w+)\s*\(",
    re.I | re.S,
)
_TRIGGER_ON = re.compile(r"\bON\s+(\w+)", re.I)


def units():
    out = [("common", os.path.join(ROOT, "common/sql"), os.path.join(ROOT, "common/sql/families"))]
    sd = os.path.join(ROOT, "services")
    for svc in sorted(os.listdir(sd)):
        mig = os.path.join(sd, svc, "migrations")
        if os.path.isdir(mig):
            out.append((svc, mig, os.path.join(sd, svc, "sql")))
    return out


def migrations(d):
    files = []
    for f in os.listdir(d):
        m = re.match(r"^(\d+)_.*\.sql$", f)
        if m:
            files.append((int(m.group(1)), os.path.join(d, f)))
    return [p for _, p in sorted(files)]


def family_for(unit, name):
    for pat, fam in FAMILIES.get(unit, [(r"", "functions")]):
        if re.search(pat, name):
            return fam
    return "functions"


class Family:
    def __init__(self, unit, path):
        self.unit, self.path = unit, path
        self.family = os.path.basename(path)[:-4]
        self.chunks = []  # [key or None, text]
        if os.path.exists(path):
            for c in sqlparse.split(open(path).read()):
                self.chunks.append([key_of(c), c])
        else:
            self.chunks.append([None, HEADER.format(unit=unit, family=self.family)])

    def text(self):
        t = "".join(c[1] for c in self.chunks)
        return t


def key_of(chunk):
    d = sqlparse.function_def(chunk)
    if d:
        return ("fn", sqlparse.ident(d[0], d[1]))
    m = _VIEW.match(sqlparse.strip_comments(chunk))
    if m:
        return ("view", m.group(1).lower())
    m = _TRIGGER.match(sqlparse.strip_comments(chunk))
    if m:
        on = _TRIGGER_ON.search(m.group(4))
        return ("trigger", "%s ON %s" % (m.group(3).lower(), on.group(1).lower() if on else "?"))
    return None


def normalise_fn(attached, body):
    """The function's text as a family file holds it: its own comment, CREATE OR REPLACE."""
    body = re.sub(r"^(\s*)CREATE\s+(?!OR\s+REPLACE)", r"\1CREATE OR REPLACE ", body, count=1, flags=re.I)
    return attached + body.strip("\n") + "\n"


def normalise_trigger(attached, body, key):
    """CREATE OR REPLACE TRIGGER; a constraint trigger (which cannot be replaced) is dropped and
    created again."""
    if re.match(r"^\s*CREATE\s+(OR\s+REPLACE\s+)?CONSTRAINT\s", body, re.I):
        name, table = key[1].split(" ON ")
        return attached + "DROP TRIGGER IF EXISTS %s ON %s;\n" % (name, table) + body.strip("\n") + "\n"
    body = re.sub(r"^(\s*)CREATE\s+(?!OR\s+REPLACE)", r"\1CREATE OR REPLACE ", body, count=1, flags=re.I)
    return attached + body.strip("\n") + "\n"


_VIEW = re.compile(r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?VIEW\s+(\w+)", re.I)


def fold_unit(unit, migdir, famdir, check):
    fams = {}
    if os.path.isdir(famdir):
        for f in sorted(os.listdir(famdir)):
            if f.endswith(".sql"):
                fams[f[:-4]] = Family(unit, os.path.join(famdir, f))
    where = {}  # key -> family name
    for fam in fams.values():
        for k, _ in fam.chunks:
            if k:
                where[k] = fam.family

    dropped_from = {}  # function name -> the family a DROP took it from (a re-CREATE goes back)

    def fam_of_new(name):
        for k, f in where.items():
            if k[0] == "fn" and k[1].split("(")[0] == name:
                return f
        return dropped_from.get(name) or family_for(unit, name)

    def put(key, text, fam_name, after=None):
        if key in where:
            fam = fams[where[key]]
            for c in fam.chunks:
                if c[0] == key:
                    c[1] = "\n" + text
            return
        if fam_name not in fams:
            fams[fam_name] = Family(unit, os.path.join(famdir, fam_name + ".sql"))
        fam = fams[fam_name]
        chunk = [key, "\n" + text]
        idx = None
        if after is not None:
            for i, c in enumerate(fam.chunks):
                if c[0] == after:
                    idx = i + 1
            # keep the triggers over one function together, in their order
            while idx is not None and idx < len(fam.chunks) and fam.chunks[idx][0] and fam.chunks[idx][0][0] == "trigger":
                idx += 1
        if idx is None:
            fam.chunks.append(chunk)
        else:
            fam.chunks.insert(idx, chunk)
        where[key] = fam_name

    def remove(key):
        if key not in where:
            return
        fam = fams[where.pop(key)]
        dropped_from[key[1].split("(")[0]] = fam.family
        fam.chunks = [c for c in fam.chunks if c[0] != key]

    moved = set(k[1].split("(")[0] for k in where if k[0] == "fn")
    changed = []
    for path in migrations(migdir):
        text = open(path).read()
        chunks = sqlparse.split(text)
        out = []
        for c in chunks:
            d = sqlparse.function_def(c)
            if d:
                detached, attached, body = sqlparse.split_leading(c)
                key = ("fn", sqlparse.ident(d[0], d[1]))
                put(key, normalise_fn(attached, body), fam_of_new(d[0]))
                moved.add(d[0])
                out.append(detached)
                continue
            m = _TRIGGER.match(sqlparse.strip_comments(c))
            if m and m.group(5).lower() in moved:
                detached, attached, body = sqlparse.split_leading(c)
                key = key_of(c)
                fnkeys = [k for k in where if k[0] == "fn" and k[1].split("(")[0] == m.group(5).lower()]
                put(key, normalise_trigger(attached, body, key), where[fnkeys[0]] if fnkeys else family_for(unit, m.group(5).lower()),
                    after=fnkeys[0] if fnkeys else None)
                out.append(detached)
                continue
            m = _VIEW.match(sqlparse.strip_comments(c))
            uses = [n for n in moved if m and re.search(r"\b%s\s*\(" % n, sqlparse.strip_comments(c))]
            if m and (uses or ("view", m.group(1).lower()) in where):
                # a view over a family function is created after it, in its family file
                detached, attached, body = sqlparse.split_leading(c)
                key = ("view", m.group(1).lower())
                fnkeys = [k for k in where if k[0] == "fn" and uses and k[1].split("(")[0] == uses[0]]
                body = re.sub(r"^(\s*)CREATE\s+(?!OR\s+REPLACE)", r"\1CREATE OR REPLACE ", body, count=1, flags=re.I)
                put(key, attached + body.strip("\n") + "\n",
                    where[fnkeys[0]] if fnkeys else family_for(unit, uses[0] if uses else key[1]),
                    after=fnkeys[0] if fnkeys else None)
                out.append(detached)
                continue
            drops = sqlparse.function_drops(c)
            if drops is not None and "-- folded" not in c:
                for name, args in drops:
                    for k in list(where):
                        if k[0] == "fn" and k[1].split("(")[0] == name and (
                            args is None or k[1] == sqlparse.ident(name, args)
                        ):
                            remove(k)
                detached, attached, body = sqlparse.split_leading(c)
                body = re.sub(r"^(\s*DROP\s+(?:FUNCTION|PROCEDURE)\s+)(?!IF\s+EXISTS)", r"\1IF EXISTS ", body, count=1, flags=re.I)
                out.append(detached + attached + "-- folded: the function's current text, if any, is in its family file\n" + body)
                continue
            out.append(c)
        new = "".join(out)
        new = re.sub(r"\n{3,}", "\n\n", new)
        if not sqlparse.strip_comments(new).strip():
            if "folded into" not in new:
                new = new.rstrip("\n") + ("\n" if new.strip() else "") + \
                    "-- This migration's functions were folded into the family files (sql/*.sql).\n"
        elif not new.endswith("\n"):
            new += "\n"
        if new != text:
            changed.append(path)
            if not check:
                open(path, "w").write(new)
    if fams and not check:
        os.makedirs(famdir, exist_ok=True)
    for fam in fams.values():
        t = fam.text()
        t = re.sub(r"\n{3,}", "\n\n", t)
        if not t.endswith("\n"):
            t += "\n"
        old = open(fam.path).read() if os.path.exists(fam.path) else None
        if t != old:
            changed.append(fam.path)
            if not check:
                open(fam.path, "w").write(t)
    return changed


def main(argv):
    global ROOT
    check = "--check" in argv
    if "--root" in argv:
        i = argv.index("--root")
        ROOT = os.path.abspath(argv[i + 1])
        argv = argv[:i] + argv[i + 2 :]
    only = [a for a in argv if not a.startswith("--")]
    changed = []
    for unit, migdir, famdir in units():
        if only and unit not in only:
            continue
        changed += fold_unit(unit, migdir, famdir, check)
    for p in changed:
        print(("would change " if check else "changed ") + os.path.relpath(p, ROOT))
    return 1 if (check and changed) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
