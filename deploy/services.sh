#!/usr/bin/env bash
# deploy/services.sh — reads deploy/services.conf, the one list of the backend's programs.
#
# Sourced (by stack.sh, the fault and multi-host scripts, tests) it sets:
#   AS_SERVICES   the database services, in order (service N listens on AS_PORT_BASE + 10N + 1/2)
#   AS_PROGRAMS   the services and then the gateway
#   AS_GATEWAY    the gateway's name
# Run, it prints what the build needs:
#   deploy/services.sh services          the services, one a line
#   deploy/services.sh programs          every program, one a line
#   deploy/services.sh c-header FILE     the C header of the runtime (as_services.h)

AS_SERVICES_CONF=${AS_SERVICES_CONF:-$(dirname "${BASH_SOURCE[0]}")/services.conf}

# as_services_rows — the configuration without comments: NAME KIND STREAMS... a line.
as_services_rows() {
    sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$AS_SERVICES_CONF"
}

mapfile -t AS_SERVICES < <(as_services_rows | awk '$2 == "service" {print $1}')
AS_GATEWAY=$(as_services_rows | awk '$2 == "gateway" {print $1; exit}')
AS_PROGRAMS=("${AS_SERVICES[@]}" "$AS_GATEWAY")

# as_services_c_header — the header the C runtime includes (as/service.h, curve.c).
as_services_c_header() {
    as_services_rows | awk '
        { name[NR] = $1; kind[NR] = $2; n = NR
          for (i = 3; i <= NF; i++) if ($i != "-") consumers[$i] = consumers[$i] "\"" $1 "\", " }
        END {
            print "/* as_services.h — generated from deploy/services.conf by deploy/services.sh; do not edit. */"
            print "#ifndef AS_SERVICES_H"
            print "#define AS_SERVICES_H"
            print ""
            ns = 0
            for (i = 1; i <= n; i++) if (kind[i] == "service") svc[++ns] = name[i]
            for (i = 1; i <= n; i++) if (kind[i] == "gateway") gw = name[i]
            printf "/* The database services, in order. */\n#define AS_N_SERVICES %d\n", ns
            printf "#define AS_SERVICE_NAMES"
            for (i = 1; i <= ns; i++) printf " \"%s\"%s", svc[i], i < ns ? "," : ""
            print ""
            printf "/* The key that may act for users. */\n#define AS_GATEWAY_NAME \"%s\"\n", gw
            print "/* Each stream (named after its publisher) and the programs that consume it. */"
            printf "#define AS_STREAM_CONSUMERS"
            for (i = 1; i <= ns; i++)
                printf " \\\n    {\"%s\", {%sNULL}},", svc[i], consumers[svc[i]]
            print ""
            print "/* The command and event endpoint settings of every service (as_config_item_t). */"
            printf "#define AS_SERVICE_ENDPOINT_ITEMS"
            for (i = 1; i <= ns; i++) {
                printf " \\\n    {\"%s_cmd\", AS_CFG_STRING, \"tcp://127.0.0.1:%d\", 0, 0, \"%s command endpoint\", &as_cfg_endpoints[%d]},", svc[i], 7101 + 10 * i, svc[i], 2 * i - 2
                printf " \\\n    {\"%s_pub\", AS_CFG_STRING, \"tcp://127.0.0.1:%d\", 0, 0, \"%s event endpoint\", &as_cfg_endpoints[%d]}%s", svc[i], 7102 + 10 * i, svc[i], 2 * i - 1, i < ns ? "," : ""
            }
            print ""
            print ""
            print "#endif"
        }'
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    case ${1:-} in
    services) printf '%s\n' "${AS_SERVICES[@]}" ;;
    programs) printf '%s\n' "${AS_PROGRAMS[@]}" ;;
    c-header)
        out=${2:?usage: services.sh c-header FILE}
        as_services_c_header >"$out.tmp" && mv "$out.tmp" "$out"
        ;;
    *)
        sed -n '2,11s/^# \{0,1\}//p' "$0" >&2
        exit 2
        ;;
    esac
fi
