#!/bin/sh
# Entry point of the Linux image. Started as root (the default), it gives an empty root-owned
# /data or /app/logs to the vectra user (what Docker creates for `-v $(pwd)/data:/data` when
# ./data does not exist yet), then runs the gateway as vectra. Started as another user
# (`--user`, Kubernetes runAsUser), it runs the gateway as that user and changes nothing.
set -eu
APP_USER=vectra

if [ "$(id -u)" != 0 ]; then
  exec node /app/bin/vectra.js "$@"
fi

empty_and_roots() { [ -d "$1" ] && [ "$(stat -c %u "$1")" = 0 ] && [ -z "$(ls -A "$1")" ]; }
if empty_and_roots /data; then
  chown "$APP_USER:$APP_USER" /data && chmod 0700 /data
fi
if empty_and_roots /app/logs; then
  chown "$APP_USER:$APP_USER" /app/logs
fi
if ! setpriv --reuid="$APP_USER" --regid="$APP_USER" --init-groups test -w /data; then
  uid=$(id -u "$APP_USER")
  echo "vectra: /data is not writable by the $APP_USER user (uid $uid)." >&2
  echo "  Give it the directory (chown -R $uid:$uid <host dir>), or run the container as the" >&2
  echo "  directory's owner: docker run --user \"\$(id -u):\$(id -g)\" …" >&2
  exit 1
fi
exec setpriv --reuid="$APP_USER" --regid="$APP_USER" --init-groups node /app/bin/vectra.js "$@"
