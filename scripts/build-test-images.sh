#!/usr/bin/env bash
# Builds the images the tests run, locally and with no registry (CI machines
# cannot pull):
#
#   berth-test/busybox:latest  FROM scratch with Debian's static busybox; tiny,
#                              built in about a second, used by most tests.
#   berth-test/debian:latest   a debootstrap (minbase) root file system with
#                              python3 and openssh-sftp-server, for the SSH
#                              work; takes minutes, so it is built once per
#                              machine.
#   berth-test/node20:latest   berth-test/debian with this machine's Node.js 20
#                              (node, npm, headers, laid out as the official
#                              node image has them), make, g++ and tini: the
#                              local stand-in for the official node:20 image
#                              that the root Dockerfile builds on (its BASE
#                              argument), since no registry can be pulled from.
#
# Each image carries a label with the hash of the shell function that builds
# it, so an image is rebuilt exactly when its recipe changes. Needs root, a
# running engine, and the Debian packages busybox-static and debootstrap
# (.ci/run's system step installs them). BERTH_DEBIAN_MIRROR overrides the
# mirror, which is otherwise read from this machine's apt sources.
set -euo pipefail

RECIPE_LABEL=berth.test-image.recipe
WORK=$(mktemp -d /var/tmp/berth-test-images.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

log() { printf '[images] %s\n' "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

recipe_hash() { declare -f "$1" write_accounts | sha256sum | cut -c1-16; }

# Builds image $1 with function $2 unless an image with the same recipe exists.
ensure_image() {
  local image=$1 recipe=$2 want have
  want=$(recipe_hash "$recipe")
  have=$(docker image inspect --format "{{ index .Config.Labels \"$RECIPE_LABEL\" }}" "$image" 2>/dev/null || true)
  if [[ $have == "$want" ]]; then
    log "$image: up to date"
    return
  fi
  local started=$SECONDS
  log "$image: building"
  "$recipe" "$image" "$RECIPE_LABEL=$want"
  log "$image: built in $((SECONDS - started))s"
}

# The users every test image knows: root, and "berth" (uid 1000) whose home is
# the default environment.homePath.
write_accounts() {
  local root=$1 shell=$2
  mkdir -p "$root/etc"
  printf 'root:x:0:0:root:/root:%s\nberth:x:1000:1000:berth:/home/berth:%s\n' "$shell" "$shell" >"$root/etc/passwd"
  printf 'root:x:0:\nberth:x:1000:\n' >"$root/etc/group"
}

build_busybox() {
  local image=$1 label=$2 ctx="$WORK/busybox"
  [[ -x /bin/busybox && $(LC_ALL=C ldd /bin/busybox 2>&1 || true) == *'not a dynamic executable'* ]] ||
    die "/bin/busybox is missing or not static: install Debian's busybox-static"
  mkdir -p "$ctx/rootfs/bin" "$ctx/rootfs/root" "$ctx/rootfs/home/berth"
  cp /bin/busybox "$ctx/rootfs/bin/busybox"
  write_accounts "$ctx/rootfs" /bin/sh
  cat >"$ctx/Dockerfile" <<EOF
FROM scratch
COPY rootfs/ /
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN mkdir -p /tmp /usr/bin /sbin /usr/sbin && chmod 1777 /tmp && chown 1000:1000 /home/berth
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
LABEL $label
CMD ["/bin/sh"]
EOF
  # The classic builder: it needs no buildx plugin and no base image.
  DOCKER_BUILDKIT=0 docker build --tag "$image" "$ctx" >"$WORK/build.log" 2>&1 ||
    { tail -n 30 "$WORK/build.log" >&2; die "docker build $image"; }
}

# The mirror of this machine's own Debian sources (deb822 or one-line format)
# whose suite is the running release.
debian_mirror() {
  local codename=$1
  if [[ -n ${BERTH_DEBIAN_MIRROR:-} ]]; then
    echo "$BERTH_DEBIAN_MIRROR"
    return
  fi
  {
    shopt -s nullglob
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
      awk -v suite="$codename" 'BEGIN { RS = ""; FS = "\n" }
        /(^|\n)Enabled: *no/ { next }
        {
          uris = ""; ok = 0
          for (i = 1; i <= NF; i++) {
            if ($i ~ /^URIs:/) { uris = $i; sub(/^URIs: */, "", uris) }
            if ($i ~ /^Suites:/) { n = split($i, s, / +/); for (j = 2; j <= n; j++) if (s[j] == suite) ok = 1 }
          }
          if (ok && uris != "") { split(uris, u, / +/); print u[1] }
        }' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [[ -f $f ]] || continue
      awk -v suite="$codename" '$1 == "deb" {
          i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
          if ($(i + 1) == suite) print $i
        }' "$f"
    done
  } | head -n 1
}

build_debian() {
  local image=$1 label=$2 root="$WORK/debian" codename mirror
  command -v debootstrap >/dev/null || die "debootstrap is missing: install Debian's debootstrap"
  # shellcheck disable=SC1091
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  [[ -n $codename ]] || die "cannot tell the Debian release from /etc/os-release"
  mirror=$(debian_mirror "$codename")
  [[ -n $mirror ]] || die "no apt source for '$codename' found; set BERTH_DEBIAN_MIRROR"
  log "debootstrap $codename (minbase) from the machine's apt mirror"
  # python3: the berth's web server; openssh-sftp-server: sftp; vim-tiny: a full-screen program on the alternate screen (web terminal tests).
  debootstrap --variant=minbase --include=python3,openssh-sftp-server,vim-tiny "$codename" "$root" "$mirror" \
    >"$WORK/debootstrap.log" 2>&1 || { tail -n 30 "$WORK/debootstrap.log" >&2; die "debootstrap"; }
  chroot "$root" sh -c 'groupadd -g 1000 berth && useradd -m -u 1000 -g 1000 -d /home/berth -s /bin/bash berth'
  chroot "$root" apt-get clean
  rm -rf "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/var/log/*.log
  tar --numeric-owner -C "$root" -c . | docker import \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "LABEL $label" \
    --change 'CMD ["/bin/bash"]' \
    - "$image" >/dev/null
}

# Adds, in a chroot of berth-test/debian's files on the host (whose apt
# reaches the mirror), what the official node image has: a C++ tool chain for
# native modules, and this machine's Node.js under /usr/local.
build_node() {
  local image=$1 label=$2 root="$WORK/node" node npm_dir container
  node=$(readlink -f "$(command -v node)")
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  [[ $("$node" --version) == v20.* ]] || die "the machine's node is $("$node" --version), not Node.js 20"
  [[ -f $npm_dir/package.json && -d $(dirname "$(dirname "$node")")/include/node ]] || die "npm or the Node.js headers are missing beside $node"
  mkdir -p "$root"
  container=$(docker create berth-test/debian:latest)
  docker export "$container" | tar -x -C "$root"
  docker rm "$container" >/dev/null
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  chroot "$root" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends make g++ tini ca-certificates' \
    >"$WORK/node-apt.log" 2>&1 || { tail -n 30 "$WORK/node-apt.log" >&2; die "apt-get install in the node image's chroot"; }
  chroot "$root" apt-get clean
  rm -rf "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/var/log/*.log
  : >"$root/etc/resolv.conf"
  mkdir -p "$root/usr/local/bin" "$root/usr/local/include" "$root/usr/local/lib/node_modules"
  cp "$node" "$root/usr/local/bin/node"
  cp -a "$(dirname "$(dirname "$node")")/include/node" "$root/usr/local/include/node"
  cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  # node-gyp builds native modules against these headers instead of downloading them.
  tar --numeric-owner -C "$root" -c . | docker import \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV npm_config_nodedir=/usr/local" \
    --change "LABEL $label" \
    --change 'CMD ["node"]' \
    - "$image" >/dev/null
}

timeout 10 docker info >/dev/null 2>&1 || die "no docker engine answers (run: bash .ci/run system engine)"
ensure_image berth-test/busybox:latest build_busybox
ensure_image berth-test/debian:latest build_debian
ensure_image berth-test/node20:latest build_node
