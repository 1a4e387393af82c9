# shellcheck shell=bash
# tests/nginx.sh — nginx with the example site deploy/nginx/aftersales.conf, for the tests that
# put it in front of gateways (tests/integration/nginx_proxy.sh, deploy/multihost/run.sh).
#
#   nginx_example DIR UPSTREAM1 UPSTREAM2 HTTP_LISTEN TLS_LISTEN
#
# writes into DIR a throw-away certificate for the example's server name ($NGINX_NAME; the
# certificate is DIR/fullchain.pem, for curl --cacert), the example site with its two upstream
# servers, its listen addresses and its certificate paths replaced, and DIR/nginx.conf around
# it (pid, logs and temporary files in DIR). Start it with
#   "$NGINX" -p DIR -c DIR/nginx.conf -g 'daemon off;'
# NGINX is the nginx binary (empty when nginx is not installed: Debian package nginx).

# shellcheck disable=SC2034 # used by the scripts that source this file
NGINX=$(command -v nginx || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true)
# shellcheck disable=SC2034
NGINX_NAME=aftersales.example.com

nginx_example() {
    local dir=$1 up1=$2 up2=$3 http=$4 tls=$5 root user=""
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
    mkdir -p "$dir/logs" "$dir/tmp"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$NGINX_NAME" \
        -addext "subjectAltName=DNS:$NGINX_NAME" -keyout "$dir/privkey.pem" \
        -out "$dir/fullchain.pem" >/dev/null 2>&1 || return 1
    sed -e "0,/^\( *server \)10\.[0-9.]*:8480 /s//\1$up1 /" \
        -e "0,/^\( *server \)10\.[0-9.]*:8480 /s//\1$up2 /" \
        -e "s/^\( *listen\) 80;/\1 $http;/" \
        -e "s/^\( *listen\) 443 ssl http2;/\1 $tls ssl http2;/" \
        -e '/listen \[::\]/d' \
        -e "s#/etc/ssl/aftersales/#$dir/#" \
        "$root/deploy/nginx/aftersales.conf" >"$dir/aftersales.conf" || return 1
    [ "$(id -u)" -ne 0 ] || user="user root;"
    cat >"$dir/nginx.conf" <<CONF
$user
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log;
events { worker_connections 256; }
http {
    access_log $dir/logs/access.log;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    include $dir/aftersales.conf;
}
CONF
}
