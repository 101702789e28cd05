#!/bin/bash
# Installs what a fresh Debian machine lacks to build and test uvs (idempotent).
# Swift 6.3 itself is expected on PATH (/opt/swift on the project's machines).
set -euo pipefail
need=()
# ldirectord: the real one drives uvsd through uvsadm in the checks lab; keepalived: config truth;
# dnsmasq, pyftpdlib, tinyproxy, slapd and MariaDB's core: real DNS, FTP, proxy, LDAP and SQL servers
# for the checks lab (packages that start no service; slapd unconfigured: the labs run their own).
for pkg in libpcap-dev libnet1-dev iproute2 tcpdump tcpreplay curl python3 util-linux ldirectord keepalived dnsmasq-base python3-pyftpdlib openssl tinyproxy-bin slapd ldap-utils mariadb-server-core mariadb-client-core; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing packages: ${need[*]} (run as root or: sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
  echo "setup: installing ${need[*]}"
  apt-get update -qq
  echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "setup: swift is not on PATH" >&2; exit 1; }
