#!/usr/bin/env bash
# Console: the gateway serves the console's files at /console/ — the right content types, a
# strict Content-Security-Policy on every answer, revalidation by ETag (304), / redirected to
# /console/, and nothing outside build/console reachable: "..", encoded dots and slashes,
# hidden files, backslashes and unsafe methods are refused.
. "$(dirname "$0")/../lib.sh"

U=$AS_GATEWAY_URL
hdrs() { curl -s -o /dev/null -D - --max-time 10 "$@" | tr -d '\r'; }
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 --path-as-is "$@"; }

h=$(hdrs "$U/")
t_match "/ redirects to the console" $'^HTTP/1.1 302' "$h"
t_match "the redirect names /console/" $'\nLocation: /console/\n' "$h"

h=$(hdrs "$U/console/")
t_match "the console's page is served" $'^HTTP/1.1 200' "$h"
t_match "the page is HTML" $'\nContent-Type: text/html; charset=utf-8\n' "$h"
t_match "the page carries a strict CSP (own origin only, no inline script)" \
    $'\nContent-Security-Policy: default-src \'none\'; script-src \'self\'; style-src \'self\';[^\n]*frame-ancestors \'none\'\n' "$h"
t_check "the CSP allows no inline script, eval or other origin" bash -c "! grep -qiE \"unsafe|http:|https:|\\*\" <<<'$(grep -i '^Content-Security-Policy' <<<"$h")'"
t_match "the page is revalidated before use" $'\nCache-Control: no-cache\n' "$h"
t_match "MIME sniffing is off" $'\nX-Content-Type-Options: nosniff\n' "$h"
body=$(curl -s --max-time 10 "$U/console/")
t_check "the page loads only its own script and style (no CDN)" \
    bash -c "grep -q 'src=\"app.js\"' <<<'$body' && ! grep -qE 'https?://' <<<'$body' && ! grep -q '<script>' <<<'$body'"

t_match "a module is JavaScript" $'\nContent-Type: text/javascript; charset=utf-8\n' "$(hdrs "$U/console/app.js")"
t_match "the vendored Preact + htm bundle is served" $'^HTTP/1.1 200' "$(hdrs "$U/console/vendor/preact-htm.mjs")"
t_match "the stylesheet is CSS" $'\nContent-Type: text/css; charset=utf-8\n' "$(hdrs "$U/console/app.css")"
t_match "the icon is SVG" $'\nContent-Type: image/svg\\+xml\n' "$(hdrs "$U/console/favicon.svg")"

etag=$(hdrs "$U/console/app.js" | sed -n 's/^ETag: //p')
t_match "files carry an ETag" '^".+"$' "$etag"
t_eq "an unchanged file is answered 304" 304 "$(code -H "If-None-Match: $etag" "$U/console/app.js")"
t_eq "a HEAD request is answered" 200 "$(code -I "$U/console/index.html")"

t_eq "an unknown file is 404" 404 "$(code "$U/console/nope.js")"
for p in "/console/../Makefile" "/console/%2e%2e/Makefile" "/console/%2E%2E/%2E%2E/etc/passwd" \
    "/console/vendor/..%2f..%2fMakefile" "/console/..%5cMakefile" "/console/.stamp" \
    "/console/vendor/" "/console//etc/passwd" "/console/%00index.html" "/console/./index.html"; do
    c=$(code "$U$p")
    out=$(curl -s --max-time 10 --path-as-is "$U$p")
    if [[ $c =~ ^(400|404)$ ]] && ! grep -qE 'root:|CFLAGS|<html' <<<"$out"; then
        t_ok "traversal refused: $p ($c)"
    else
        t_fail "traversal refused: $p" "got $c: ${out:0:120}"
    fi
done
ln -sf /etc/passwd "build/console/link-$$.txt" 2>/dev/null &&
    t_eq "a symbolic link inside the directory is not followed" 404 "$(code "$U/console/link-$$.txt")"
rm -f "build/console/link-$$.txt"
t_eq "the console takes no POST" 405 "$(code -X POST "$U/console/index.html")"
t_eq "the API is still routed" 401 "$(code "$U/v1/tickets")"
t_done
