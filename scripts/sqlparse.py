"""A small SQL statement splitter for the fold script and the layout check.

Splits a file into top-level statements, honouring -- and /* */ comments, 'strings' (E'' too),
"identifiers" and $tag$ dollar quotes. Each statement keeps the text since the previous
statement's end (leading blank lines and comments included), so joining the pieces gives back
the file byte for byte.
"""

import re

_DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z_0-9]*)?\$")


def split(text):
    """Return a list of chunks; all but maybe the last end with ';' (plus the rest of that line
    when it holds only whitespace or a -- comment)."""
    out = []
    i, n, start = 0, len(text), 0
    while i < n:
        c = text[i]
        if c == "-" and text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j < 0 else j + 1
        elif c == "/" and text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif c == "'":
            esc = i > 0 and text[i - 1] in "eE" and (i < 2 or not (text[i - 2].isalnum() or text[i - 2] == "_"))
            i += 1
            while i < n:
                if esc and text[i] == "\\":
                    i += 2
                    continue
                if text[i] == "'":
                    if i + 1 < n and text[i + 1] == "'":
                        i += 2
                        continue
                    break
                i += 1
            i += 1
        elif c == '"':
            j = text.find('"', i + 1)
            i = n if j < 0 else j + 1
        elif c == "$":
            m = _DOLLAR.match(text, i)
            if m and not (i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")):
                tag = m.group(0)
                j = text.find(tag, m.end())
                i = n if j < 0 else j + len(tag)
            else:
                i += 1
        elif c == ";":
            i += 1
            # keep the rest of the line if it is only blanks or a -- comment
            m = re.compile(r"[ \t]*(--[^\n]*)?\n").match(text, i)
            if m:
                i = m.end()
            out.append(text[start:i])
            start = i
        else:
            i += 1
    if start < n:
        out.append(text[start:])
    return out


def strip_comments(s):
    """The statement without comments (strings and dollar quotes left as they are), for
    matching the statement's head."""
    res, i, n = [], 0, len(s)
    while i < n:
        if s.startswith("--", i):
            j = s.find("\n", i)
            i = n if j < 0 else j
        elif s.startswith("/*", i):
            j = s.find("*/", i + 2)
            i = n if j < 0 else j + 2
            res.append(" ")
        elif s[i] == "$":
            m = _DOLLAR.match(s, i)
            if m and not (i > 0 and (s[i - 1].isalnum() or s[i - 1] == "_")):
                j = s.find(m.group(0), m.end())
                j = n if j < 0 else j + len(m.group(0))
                res.append(s[i:j])
                i = j
            else:
                res.append(s[i])
                i += 1
        elif s[i] == "'":
            j = i + 1
            while j < n:
                if s[j] == "'":
                    if j + 1 < n and s[j + 1] == "'":
                        j += 2
                        continue
                    break
                j += 1
            res.append(s[i : j + 1])
            i = j + 1
        else:
            res.append(s[i])
            i += 1
    return "".join(res)


def split_leading(chunk):
    """(detached, attached, body): the chunk's leading comment lines split at the last blank
    line before the statement. `attached` is the comment block directly above the statement
    (moves with it), `detached` what stays behind (file headers, section comments)."""
    lines = chunk.split("\n")
    k = 0
    while k < len(lines) and (lines[k].strip() == "" or lines[k].lstrip().startswith("--")):
        k += 1
    head, body = lines[:k], "\n".join(lines[k:])
    last_blank = -1
    for idx, ln in enumerate(head):
        if ln.strip() == "":
            last_blank = idx
    detached = head[: last_blank + 1]
    attached = head[last_blank + 1 :]
    d = "\n".join(detached) + ("\n" if detached else "")
    a = "\n".join(attached) + ("\n" if attached else "")
    return d, a, body


_CREATE_FN = re.compile(
    r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(FUNCTION|PROCEDURE)\s+((?:\"[^\"]+\"|[A-Za-z_][\w$]*)(?:\s*\.\s*(?:\"[^\"]+\"|[A-Za-z_][\w$]*))?)\s*\(",
    re.I,
)
_DROP_FN = re.compile(r"^\s*DROP\s+(FUNCTION|PROCEDURE)\s+(IF\s+EXISTS\s+)?", re.I)

_TYPE_START = {
    "text", "int", "integer", "bigint", "smallint", "numeric", "decimal", "boolean", "bool",
    "date", "timestamptz", "timestamp", "jsonb", "json", "uuid", "bytea", "double", "real",
    "character", "varchar", "char", "interval", "inet", "int2", "int4", "int8", "float4",
    "float8", "time", "timetz", "anyelement", "anyarray", "regclass", "regproc", "oid", "name",
    "bit", "money", "record", "void", "trigger", "cstring", "tsvector", "xml", "daterange",
    "tstzrange", "int4range", "int8range", "numrange",
}
_MODES = {"in", "out", "inout", "variadic"}


def _matching_paren(s, i):
    """Index of the ')' matching the '(' at s[i]."""
    depth = 0
    j = i
    while j < len(s):
        ch = s[j]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return j
        elif ch == "'":
            j = s.find("'", j + 1)
        elif ch == '"':
            j = s.find('"', j + 1)
        j += 1
    return -1


def _split_args(s):
    parts, depth, cur = [], 0, []
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur))
    return parts


_ALIASES = {
    "int": "integer", "int4": "integer", "int8": "bigint", "int2": "smallint", "bool": "boolean",
    "float8": "double precision", "float4": "real", "timestamptz": "timestamp with time zone",
    "varchar": "character varying", "decimal": "numeric",
}


def _norm_type(t):
    t = re.sub(r"\s+", " ", t.strip().lower())
    t = re.sub(r"\s*\(\s*[\d\s,]*\)", "", t)  # numeric(10,2) -> numeric
    arr = ""
    while t.endswith("[]"):
        arr += "[]"
        t = t[:-2].strip()
    if "." in t and not t.startswith('"'):
        t = t.split(".")[-1]
    return _ALIASES.get(t, t) + arr


def arg_types(argtext):
    """Identity argument types of a CREATE/DROP FUNCTION argument list (OUT args left out)."""
    types = []
    for a in _split_args(argtext):
        a = re.split(r"\s+(?:DEFAULT\b|=)", a.strip(), maxsplit=1, flags=re.I)[0].strip()
        if not a:
            continue
        words = a.split()
        mode = "in"
        if words[0].lower() in _MODES and len(words) > 1:
            mode = words[0].lower()
            words = words[1:]
        if mode == "out":
            continue
        first = words[0].lower().rstrip("[]")
        if first.split("(")[0] in _TYPE_START or len(words) == 1:
            types.append(_norm_type(" ".join(words)))
        else:
            types.append(_norm_type(" ".join(words[1:])))
    return tuple(types)


def _norm_name(n):
    n = re.sub(r"\s+", "", n)
    parts = [p.strip('"') if p.startswith('"') else p.lower() for p in n.split(".")]
    return parts[-1], (parts[0] if len(parts) > 1 else None)


def function_def(chunk):
    """(name, argtypes, schema) when the chunk is CREATE [OR REPLACE] FUNCTION/PROCEDURE."""
    s = strip_comments(chunk)
    m = _CREATE_FN.match(s)
    if not m:
        return None
    close = _matching_paren(s, m.end() - 1)
    name, schema = _norm_name(m.group(2))
    return name, arg_types(s[m.end() : close]), schema


def function_drops(chunk):
    """[(name, argtypes or None)] when the chunk is DROP FUNCTION/PROCEDURE, else None."""
    s = strip_comments(chunk)
    m = _DROP_FN.match(s)
    if not m:
        return None
    rest = s[m.end() :]
    out = []
    i = 0
    while True:
        mm = re.compile(r"\s*((?:\"[^\"]+\"|[A-Za-z_][\w$]*)(?:\.(?:\"[^\"]+\"|[A-Za-z_][\w$]*))?)\s*").match(rest, i)
        if not mm:
            break
        name, _ = _norm_name(mm.group(1))
        i = mm.end()
        args = None
        if i < len(rest) and rest[i] == "(":
            close = _matching_paren(rest, i)
            args = arg_types(rest[i + 1 : close])
            i = close + 1
        out.append((name, args))
        mm = re.compile(r"\s*,").match(rest, i)
        if not mm:
            break
        i = mm.end()
    return out


def ident(name, args):
    return "%s(%s)" % (name, ", ".join(args))
