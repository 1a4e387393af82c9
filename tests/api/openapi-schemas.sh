#!/usr/bin/env bash
# openapi-schemas.sh — the OpenAPI schemas of docs/api/openapi.yaml, derived from proto/*.proto.
#
#   tests/api/openapi-schemas.sh [OPENAPI]            print the generated block
#   tests/api/openapi-schemas.sh --update [OPENAPI]   rewrite that block of OPENAPI in place
#   tests/api/openapi-schemas.sh --fields [OPENAPI]   print "message<TAB>field<TAB>type" for every
#                                                    message of every proto (for the tests)
#   tests/api/openapi-schemas.sh --enums              print "message<TAB>field<TAB>enum<TAB>v1|v2|..."
#                                                    for every field tagged [enum: pkg.Name]
#   tests/api/openapi-schemas.sh --required           print "message<TAB>field field ..." (the
#                                                    fields tagged [required]) for every message
#
# OPENAPI defaults to docs/api/openapi.yaml. The block lies between the lines
# "    # BEGIN GENERATED SCHEMAS" and "    # END GENERATED SCHEMAS" under components/schemas.
# Which messages it holds: every message named by an operation's `x-command:` or `x-reply:`
# line, every message named in a `$ref: '#/components/schemas/pkg.Message'` outside the block,
# and, transitively, every message those refer to. Each schema is named like the message
# ("intake.Ticket"); properties are the proto fields with their proto names (the JSON the
# gateway speaks), the proto comments become descriptions, int64 are JSON integers and
# `*_cents` fields are money in integer cents.
#
# Only awk, sed and bash: no YAML or protobuf tooling is needed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
MODE=print
case ${1:-} in
--update) MODE=update && shift ;;
--fields) MODE=fields && shift ;;
--enums) MODE=enums && shift ;;
--required) MODE=required && shift ;;
esac
OPENAPI=${1:-$ROOT/docs/api/openapi.yaml}
PROTOS=("$ROOT"/proto/*.proto)
BEGIN_MARK='    # BEGIN GENERATED SCHEMAS'
END_MARK='    # END GENERATED SCHEMAS'

# proto_table — one line per message and field of every proto:
#   M <pkg.Message> <description>
#   F <pkg.Message> <field> <label> <type, package-qualified when a message> <description>
# (tab-separated). Comment lines directly above a message or field, and a trailing comment,
# become its description; section rulers ("// ---- ... ----") and file headers do not.
proto_table() {
    awk '
    function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
    function flush() { pending = "" }
    FNR == 1 { pkg = ""; flush(); inmsg = "" }
    /^package[ \t]+/ { p = $2; sub(/;.*/, "", p); pkg = p; flush(); next }
    /^[ \t]*\/\// {
        c = $0; sub(/^[ \t]*\/\/[ \t]?/, "", c)
        if (c ~ /^----/ || c ~ /----$/) { flush(); next }
        pending = pending == "" ? trim(c) : pending " " trim(c)
        next
    }
    /^[ \t]*$/ { flush(); next }
    /^message[ \t]+[A-Za-z0-9_]+/ {
        name = $2; sub(/\{.*/, "", name)
        inmsg = pkg "." name
        printf "M\t%s\t%s\n", inmsg, pending
        flush()
        if ($0 ~ /\}/) inmsg = ""
        next
    }
    /^enum[ \t]+[A-Za-z0-9_]+/ {
        name = $2; sub(/\{.*/, "", name)
        inenum = pkg "." name
        printf "N\t%s\t%s\n", inenum, pending
        flush()
        next
    }
    inenum != "" && /^[ \t]*[A-Za-z0-9_]+[ \t]*=[ \t]*[0-9]+[ \t]*;/ {
        v = $1; sub(/=.*/, "", v)
        printf "V\t%s\t%s\n", inenum, v
        next
    }
    /^\}/ { inmsg = ""; inenum = ""; flush(); next }
    inmsg != "" && /^[ \t]*(optional|repeated|required)[ \t]/ {
        line = $0; trail = ""
        if (index(line, "//") > 0) {
            trail = trim(substr(line, index(line, "//") + 2))
            line = substr(line, 1, index(line, "//") - 1)
        }
        n = split(trim(line), w, /[ \t]+/)
        label = w[1]; type = w[2]; fname = w[3]
        if (type !~ /^(string|bytes|bool|double|float|int32|int64|uint32|uint64|sint32|sint64|fixed32|fixed64|sfixed32|sfixed64)$/ && index(type, ".") == 0)
            type = pkg "." type
        d = pending
        if (trail != "") d = d == "" ? trail : d " " trail
        # The tags: "[required]" and "[enum: pkg.Name]" leave the description.
        req = 0; en = ""
        if (index(d, "[required]") > 0) { req = 1; sub(/\[required\][ ]?/, "", d) }
        if (match(d, /\[enum: [a-z]+\.[A-Za-z0-9_]+\][ ]?/)) {
            en = substr(d, RSTART + 7, RLENGTH - 7); sub(/\][ ]?$/, "", en)
            d = substr(d, 1, RSTART - 1) substr(d, RSTART + RLENGTH)
        }
        d = trim(d)
        printf "F\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", inmsg, fname, label, type, d, req, en
        flush()
        next
    }
    { flush() }
    ' "${PROTOS[@]}"
}

if [ "$MODE" = enums ]; then
    proto_table | awk -F'\t' '
        $1 == "V" { vals[$2] = nv[$2]++ ? vals[$2] "|" $3 : $3; next }
        $1 == "F" && $8 != "" { n++; m[n] = $2; f[n] = $3; e[n] = $8 }
        END { for (i = 1; i <= n; i++) print m[i] "\t" f[i] "\t" e[i] "\t" vals[e[i]] }'
    exit 0
fi
if [ "$MODE" = required ]; then
    proto_table | awk -F'\t' '
        $1 == "F" && $7 == 1 { if (!($2 in r)) { n++; o[n] = $2 }; r[$2] = r[$2] (r[$2] == "" ? "" : " ") $3 }
        END { for (i = 1; i <= n; i++) print o[i] "\t" r[o[i]] }'
    exit 0
fi
if [ "$MODE" = fields ]; then
    proto_table | awk -F'\t' '$1 == "F" { t = $5; if ($4 == "repeated") t = t "[]"; print $2 "\t" $3 "\t" t }'
    exit 0
fi

[ -f "$OPENAPI" ] || { echo "openapi-schemas.sh: $OPENAPI not found" >&2; exit 2; }

# roots — the messages the hand-written part of the document names.
roots() {
    awk -v b="$BEGIN_MARK" -v e="$END_MARK" '
        $0 == b { skip = 1; next }
        $0 == e { skip = 0; next }
        skip { next }
        /^      x-(command|reply): / { v = $2; if (v != "-" && v != "none") print v }
        {
            s = $0
            while (match(s, /#\/components\/schemas\/[a-z]+\.[A-Za-z0-9_]+/)) {
                print substr(s, RSTART + 21, RLENGTH - 21)
                s = substr(s, RSTART + RLENGTH)
            }
        }' "$OPENAPI" | sort -u
}

# generate — the block itself, messages in the order of the proto files.
generate() {
    local table
    table=$(proto_table)
    {
        roots | sed 's/^/R\t/'
        printf '%s\n' "$table"
    } | awk -F'\t' '
    function q(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }
    # the first lines of a schema: its name, type and description (the proto message or enum)
    function head(name, type, kind, d) {
        print "    " name ":"
        print "      type: " type
        print "      description: " q(d == "" ? "protobuf " kind " " name : d " (protobuf " kind " " name ")")
    }
    function ref(t) { return "$ref: '"'"'#/components/schemas/" t "'"'"'" }
    function scalar(t,   r) {
        if (t == "string") return "type: string"
        if (t == "bytes") return "type: string, format: byte"
        if (t == "bool") return "type: boolean"
        if (t == "double") return "type: number, format: double"
        if (t == "float") return "type: number, format: float"
        if (t ~ /^(int32|sint32|sfixed32)$/) return "type: integer, format: int32"
        if (t ~ /^(uint32|fixed32)$/) return "type: integer, format: int32, minimum: 0"
        if (t ~ /^(int64|sint64|sfixed64)$/) return "type: integer, format: int64"
        if (t ~ /^(uint64|fixed64)$/) return "type: integer, format: int64, minimum: 0"
        return ""
    }
    $1 == "R" { root[$2] = 1; next }
    $1 == "M" { nm++; morder[nm] = $2; mdesc[$2] = $3; known[$2] = 1; next }
    $1 == "N" { ne++; eorder[ne] = $2; edesc[$2] = $3; isenum[$2] = 1; next }
    $1 == "V" { nv[$2]++; evals[$2, nv[$2]] = $3; next }
    $1 == "F" {
        m = $2; nf[m]++; k = nf[m]
        fname[m, k] = $3; flabel[m, k] = $4; ftype[m, k] = $5; fdesc[m, k] = $6
        freq[m, k] = $7; fenum[m, k] = $8
        next
    }
    END {
        # The closure of the roots over message-typed fields.
        for (r in root) want[r] = 1
        changed = 1
        while (changed) {
            changed = 0
            for (m in want) for (k = 1; k <= nf[m]; k++) {
                t = ftype[m, k]
                if (known[t] && !(t in want)) { want[t] = 1; changed = 1 }
            }
        }
        for (m in want) for (k = 1; k <= nf[m]; k++) {
            en = fenum[m, k]
            if (en == "") continue
            if (!isenum[en]) {
                printf "openapi-schemas.sh: %s.%s names %s, which is no proto enum\n", m, fname[m, k], en > "/dev/stderr"
                bad = 1
            } else if (ftype[m, k] != "string") {
                printf "openapi-schemas.sh: %s.%s is tagged %s but is no string\n", m, fname[m, k], en > "/dev/stderr"
                bad = 1
            } else wantenum[en] = 1
        }
        for (r in root) if (!known[r]) {
            printf "openapi-schemas.sh: %s is named in the document but is no proto message\n", r > "/dev/stderr"
            bad = 1
        }
        print "    # BEGIN GENERATED SCHEMAS"
        print "    # Generated from proto/*.proto by tests/api/openapi-schemas.sh --update: do not edit"
        print "    # by hand (tests/integration/api_reference.sh fails when this block is stale)."
        for (i = 1; i <= nm; i++) {
            m = morder[i]
            if (!(m in want)) continue
            head(m, "object", "message", mdesc[m])
            if (nf[m] == 0) { print "      properties: {}"; continue }
            req = ""
            for (k = 1; k <= nf[m]; k++) if (freq[m, k]) req = req (req == "" ? "" : ", ") fname[m, k]
            if (req != "") print "      required: [" req "]"
            print "      properties:"
            for (k = 1; k <= nf[m]; k++) {
                t = ftype[m, k]; d = fdesc[m, k]; n = fname[m, k]
                if (n ~ /_cents$/) d = (d == "" ? "" : d " ") "Money: integer cents."
                if (known[t]) inner = ref(t); else inner = scalar(t)
                if (fenum[m, k] != "" && isenum[fenum[m, k]]) { t = fenum[m, k]; inner = ref(t) }
                if (inner == "") { printf "openapi-schemas.sh: %s.%s has unknown type %s\n", m, n, t > "/dev/stderr"; bad = 1; continue }
                if (flabel[m, k] == "repeated") {
                    line = "type: array, items: {" inner "}"
                    if (d != "") line = line ", description: " q(d)
                } else if (known[t] || isenum[t]) {
                    line = d == "" ? inner : "description: " q(d) ", allOf: [{" inner "}]"
                } else {
                    line = inner (d == "" ? "" : ", description: " q(d))
                }
                print "        " n ": {" line "}"
            }
        }
        # The closed value sets the fields above name, in the order of the proto files.
        for (i = 1; i <= ne; i++) {
            en = eorder[i]
            if (!(en in wantenum)) continue
            head(en, "string", "enum", edesc[en])
            vs = ""
            for (k = 1; k <= nv[en]; k++) vs = vs (k > 1 ? ", " : "") evals[en, k]
            print "      enum: [" vs "]"
        }
        print "    # END GENERATED SCHEMAS"
        exit bad
    }'
}

block=$(generate)
if [ "$MODE" = print ]; then
    printf '%s\n' "$block"
    exit 0
fi

# --update: replace the lines between the markers (inclusive) with the new block.
if ! grep -qxF "$BEGIN_MARK" "$OPENAPI" || ! grep -qxF "$END_MARK" "$OPENAPI"; then
    echo "openapi-schemas.sh: $OPENAPI has no '$BEGIN_MARK' / '$END_MARK' lines" >&2
    exit 2
fi
tmp=$(mktemp "$OPENAPI.XXXXXX")
# The block goes through a file: it is larger than one environment string or argument may be.
blockfile=$(mktemp)
printf '%s\n' "$block" >"$blockfile"
awk -v b="$BEGIN_MARK" -v e="$END_MARK" -v f="$blockfile" '
    $0 == b { while ((getline l < f) > 0) print l; skip = 1; next }
    $0 == e { skip = 0; next }
    !skip { print }' "$OPENAPI" >"$tmp"
rm -f "$blockfile"
chmod --reference="$OPENAPI" "$tmp"
mv -f "$tmp" "$OPENAPI"
echo "openapi-schemas.sh: updated the generated schemas of $OPENAPI"
