#!/usr/bin/env bash
# Install the Debian packages the build, the local stack and the tests need — only those that
# are missing. As root it runs apt-get; otherwise it names what to install and fails.
set -euo pipefail
PKGS=(pkg-config gcc make faketime protobuf-c-compiler libprotobuf-c-dev libzmq3-dev libuv1-dev
      libjansson-dev libpq-dev libhttp-parser-dev libsodium-dev libcmocka-dev uthash-dev libsystemd-dev
      libcurl4-openssl-dev clang libclang-rt-14-dev llvm python3-yaml
      postgresql postgresql-contrib postgresql-15-plpgsql-check postgresql-15-pgtap curl jq procps
      nodejs npm chromium
      fonts-wqy-microhei nginx-light prometheus)
missing=()
for p in "${PKGS[@]}"; do
  # The console's npm step needs node and npm, whoever packaged them (a nodejs from another
  # Debian-format repository brings its own npm and conflicts with Debian's).
  case $p in nodejs) command -v node >/dev/null && continue ;; npm) command -v npm >/dev/null && continue ;; esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing Debian packages: ${missing[*]}" >&2
  echo "deps: run as root, or: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# A package list older than a day (or none) is refreshed once.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]; then
  apt-get update -qq
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's postgresql package starts a system cluster on 5432; we run our own and leave it be.
