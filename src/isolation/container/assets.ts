/**
 * The isolation image's build context, embedded so that it ships inside the package and its hash
 * names the image: `vectra/isolation:<first 12 hex of SHA-256 over the files>`. Any change to a
 * file here builds a new image on first use. The contract a custom `--image` must meet is the
 * same (docs/isolation.md): run as root at entry, apply and verify the firewall, then drop to an
 * unprivileged user with tini as PID 1.
 */
import { createHash } from 'node:crypto';

/** The base image when the user names none (a build argument, so CI can use a local stand-in). */
export const DEFAULT_BASE_IMAGE = 'node:22-bookworm-slim';
export const IMAGE_REPOSITORY = 'vectra/isolation';

const DOCKERFILE = `ARG NODE_IMAGE=${DEFAULT_BASE_IMAGE}
FROM \${NODE_IMAGE}
# The tools every agent expects, and what the entrypoint needs (iptables, tini, gosu). A base
# that already has them (CI's offline stand-in) skips the download.
RUN set -e; missing=""; \\
    for tool in iptables ip6tables tini gosu curl git python3 update-ca-certificates getent; do \\
      command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"; \\
    done; \\
    if [ -n "$missing" ]; then \\
      apt-get update && \\
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
        iptables ca-certificates curl git python3 tini gosu && \\
      rm -rf /var/lib/apt/lists/*; \\
    fi; \\
    command -v node >/dev/null 2>&1 || { echo "the base image has no node" >&2; exit 1; }
RUN getent passwd agent >/dev/null || useradd --create-home --uid 1000 --shell /bin/bash agent 2>/dev/null \\
    || useradd --create-home --shell /bin/bash agent
COPY init-firewall.sh entrypoint.sh /usr/local/sbin/
RUN chmod 0755 /usr/local/sbin/init-firewall.sh /usr/local/sbin/entrypoint.sh && mkdir -p /workspace
WORKDIR /workspace
ENTRYPOINT ["tini", "--", "/usr/local/sbin/entrypoint.sh"]
`;

/**
 * Runs as root: the firewall first (the agent never starts if it fails), then Vectra's CA in the
 * trust store, then the agent user takes HOST_UID/HOST_GID so that files written to bind mounts
 * belong to the host user, and the command runs as that user with no capabilities.
 */
const ENTRYPOINT = `#!/bin/sh
set -eu
fail() { echo "vectra isolation: $*" >&2; exit 70; }

if [ "\${VECTRA_NO_FIREWALL:-}" = "1" ]; then
  echo "vectra isolation: WARNING: --no-firewall: this container's egress is NOT restricted" >&2
else
  /usr/local/sbin/init-firewall.sh || fail "the firewall could not be applied and verified; the agent was not started"
fi

if [ -f /etc/vectra/ca.pem ]; then
  cp /etc/vectra/ca.pem /usr/local/share/ca-certificates/vectra-gateway.crt
  update-ca-certificates >/dev/null 2>&1 || fail "Vectra's CA could not be added to the trust store"
fi

uid="\${HOST_UID:-1000}"
gid="\${HOST_GID:-1000}"
case "$uid$gid" in *[!0-9]*) fail "HOST_UID and HOST_GID must be numbers" ;; esac
[ "$uid" = "0" ] && uid=1000
[ "$gid" = "0" ] && gid=1000
home=/home/agent
mkdir -p "$home"
chown "$uid:$gid" "$home" 2>/dev/null || true
export HOME="$home" USER=agent LOGNAME=agent
exec gosu "$uid:$gid" "$@"
`;

/**
 * OUTPUT DROP on IPv4 and IPv6, except loopback (but not Docker's resolver on 127.0.0.11: no
 * DNS), replies, and TCP to the gateway's two ports. Verified by reading the rules back.
 */
const INIT_FIREWALL = `#!/bin/sh
set -eu
fail() { echo "init-firewall: $*" >&2; exit 1; }

gateway_ip=$(getent ahostsv4 host.docker.internal | awk 'NR==1 { print $1 }')
[ -n "$gateway_ip" ] || fail "host.docker.internal does not resolve (is --add-host set?)"
[ -n "\${VECTRA_GATEWAY_PORTS:-}" ] || fail "VECTRA_GATEWAY_PORTS is not set"

ipt=iptables
$ipt -S OUTPUT >/dev/null 2>&1 || ipt=iptables-legacy
$ipt -S OUTPUT >/dev/null 2>&1 || fail "iptables does not work here (needs NET_ADMIN and NET_RAW)"

$ipt -P OUTPUT DROP
$ipt -F OUTPUT
$ipt -A OUTPUT -d 127.0.0.11 -j DROP
$ipt -A OUTPUT -o lo -j ACCEPT
$ipt -A OUTPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
for port in $(echo "$VECTRA_GATEWAY_PORTS" | tr ',' ' '); do
  case "$port" in ''|*[!0-9]*) fail "bad gateway port: $port" ;; esac
  $ipt -A OUTPUT -p tcp -d "$gateway_ip" --dport "$port" -j ACCEPT
done
$ipt -S OUTPUT | grep -qx -- "-P OUTPUT DROP" || fail "IPv4 OUTPUT policy is not DROP"

if [ -e /proc/net/if_inet6 ]; then
  ip6t=ip6tables
  $ip6t -S OUTPUT >/dev/null 2>&1 || ip6t=ip6tables-legacy
  $ip6t -S OUTPUT >/dev/null 2>&1 || fail "ip6tables does not work here"
  $ip6t -P OUTPUT DROP
  $ip6t -F OUTPUT
  $ip6t -A OUTPUT -o lo -j ACCEPT
  $ip6t -A OUTPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
  $ip6t -S OUTPUT | grep -qx -- "-P OUTPUT DROP" || fail "IPv6 OUTPUT policy is not DROP"
fi
`;

/** The build context: file name → content. */
export const IMAGE_ASSETS: Readonly<Record<string, string>> = Object.freeze({
  Dockerfile: DOCKERFILE,
  'entrypoint.sh': ENTRYPOINT,
  'init-firewall.sh': INIT_FIREWALL,
});

/** The bundled image's tag: the repository and a hash of the assets and the base image. */
export function bundledImageTag(baseImage: string = DEFAULT_BASE_IMAGE): string {
  const hash = createHash('sha256');
  for (const [name, content] of Object.entries(IMAGE_ASSETS).sort()) {
    hash.update(`${name}\0${content}\0`);
  }
  hash.update(baseImage);
  return `${IMAGE_REPOSITORY}:${hash.digest('hex').slice(0, 12)}`;
}
