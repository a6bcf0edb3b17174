#!/bin/sh
# The image's entrypoint, under tini. Started as root (the default), it lets
# the unprivileged user "berth" reach the mounted engine socket by joining the
# socket's group, whatever gid the host gave it, then runs the gateway as that
# user; `exec` keeps the gateway the process tini signals. Started with
# --user, it runs the gateway as given (add the socket's gid with --group-add).
set -eu

socket=${BERTH_RUNTIME_DOCKER_SOCKET:-${DOCKER_HOST:-unix:///var/run/docker.sock}}
socket=${socket#unix://}

if [ -z "${BERTH_CONFIG:-}" ] && [ -f /etc/berth/berth.yaml ]; then export BERTH_CONFIG=/etc/berth/berth.yaml; fi

if [ "$(id -u)" != 0 ]; then
  exec node /opt/berth/bin/berth.js "$@"
fi

# A volume mounted over /data may come owned by root; it is also berth's home.
chown berth:berth /data
export HOME=/data
if [ -S "$socket" ]; then
  exec setpriv --reuid=berth --regid=berth --groups="$(stat -c %g "$socket")" --inh-caps=-all --no-new-privs -- node /opt/berth/bin/berth.js "$@"
fi
exec setpriv --reuid=berth --regid=berth --clear-groups --inh-caps=-all --no-new-privs -- node /opt/berth/bin/berth.js "$@"
