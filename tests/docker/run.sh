#!/usr/bin/env bash
# The docker demo of docker/README.md as a test, start to finish:
#   1. installs docker.io, docker-compose and debootstrap with apt if missing;
#   2. starts a private dockerd (data root, exec root and socket under
#      $P2P_DOCKER_ROOT, default /var/tmp/p2p-docker; nofile capped at 20000);
#   3. makes the debian:bookworm base image with debootstrap if that dockerd
#      does not have it yet (kept in the data root, so reruns skip it);
#   4. builds p2p:latest from docker/Dockerfile;
#   5. multicast: docker-compose up three daemons, shares a random file on
#      node1, downloads it on node2 (found by multicast: no --peer), shares
#      node2's copy, downloads on node3 from both, compares SHA-256 each time;
#   6. static peers: the same daemons again with docker/compose.static-peers.yaml
#      (--no-multicast, --peer by service name, internal network), one download;
#   7. tears everything down in a trap: containers, networks and volumes of the
#      project, then the dockerd it started (images and build cache stay in the
#      data root for the next run; P2P_DOCKER_CLEAN=1 wipes it first: a cold run).
# Exit: 0 passed, 1 failed, 77 skipped (prints "SKIPPED: reason") where docker
# cannot run here (not root, no apt, dockerd does not start, no base image).
# Env: P2P_DOCKER_ROOT, P2P_DOCKER_CLEAN=1, P2P_DOCKER_FILE_MB (default 64),
#      P2P_DEBIAN_MIRROR (default: the first bookworm URI apt is configured with),
#      P2P_DOCKER_FROM_HEAD=1 (build git HEAD, not the working tree),
#      P2P_DOCKER_KEEP=1 (leave the containers and dockerd running, for poking).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BASE=${P2P_DOCKER_ROOT:-/var/tmp/p2p-docker}
PROJECT=p2ptest
FILE_MB=${P2P_DOCKER_FILE_MB:-64}
SOCK=$BASE/run/docker.sock
export DOCKER_HOST=unix://$SOCK
export COMPOSE_INTERACTIVE_NO_CLI=1 DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0
COMPOSE_FILE=$ROOT/docker/compose.yaml
STATIC_FILE=$ROOT/docker/compose.static-peers.yaml

T0=$SECONDS
log() { printf '[docker-demo %4ds] %s\n' $((SECONDS - T0)) "$*"; }
skip() { echo "SKIPPED: $*"; exit 77; }
fail() { echo "FAILED: $*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || skip "needs root to start its own dockerd"

# ---- 1. tools -------------------------------------------------------------
need=()
[[ -x /usr/sbin/dockerd ]] || need+=(docker.io)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v debootstrap >/dev/null || need+=(debootstrap)
if ((${#need[@]})); then
  command -v apt-get >/dev/null || skip "no apt-get to install ${need[*]}"
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"; } \
    >"${TMPDIR:-/tmp}/p2p-docker-apt.log" 2>&1 ||
    skip "apt-get install ${need[*]} failed (see ${TMPDIR:-/tmp}/p2p-docker-apt.log)"
fi
# The docker.io client matches its daemon (20.10, API 1.41); a newer client
# elsewhere on PATH may not.
DOCKER=/usr/bin/docker
[[ -x $DOCKER ]] || DOCKER=$(command -v docker) || skip "no docker client"
COMPOSE_BASE=(docker-compose -p "$PROJECT" -f "$COMPOSE_FILE")
COMPOSE=("${COMPOSE_BASE[@]}")
dk() { timeout 120 "$DOCKER" "$@"; }

# ---- 2. a private dockerd ----------------------------------------------------
mkdir -p "$BASE"
exec 9>"$BASE/lock"
flock -n 9 || skip "another run holds $BASE/lock"
if [[ ${P2P_DOCKER_CLEAN:-0} == 1 ]]; then
  log "P2P_DOCKER_CLEAN=1: wiping $BASE/data (cold run)"
  rm -rf "$BASE/data" "$BASE/exec"
fi
mkdir -p "$BASE/data" "$BASE/exec" "$BASE/run"
# A dockerd left by a run that was killed hard: stop it, it holds our paths.
if [[ -s $BASE/run/dockerd.pid ]] && kill -0 "$(cat "$BASE/run/dockerd.pid")" 2>/dev/null; then
  log "stopping a leftover dockerd (pid $(cat "$BASE/run/dockerd.pid"))"
  kill "$(cat "$BASE/run/dockerd.pid")" || true
  for _ in $(seq 30); do kill -0 "$(cat "$BASE/run/dockerd.pid")" 2>/dev/null || break; sleep 1; done
fi

# dockerd turns on forwarding and sets the FORWARD policy to DROP; put both
# back as they were when we stop it.
fwd_before=$(cat /proc/sys/net/ipv4/ip_forward 2>/dev/null || echo "")
policy_before=$(iptables -S FORWARD 2>/dev/null | awk '$1=="-P"{print $3; exit}' || true)
DOCKERD_PID=""

cleanup() {
  local rc=$?
  set +e
  if [[ ${P2P_DOCKER_KEEP:-0} == 1 && -n $DOCKERD_PID ]]; then
    log "P2P_DOCKER_KEEP=1: leaving dockerd $DOCKERD_PID and the containers running (DOCKER_HOST=$DOCKER_HOST)"
    exit $rc
  fi
  if [[ -n $DOCKERD_PID ]] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
    if ((rc != 0 && rc != 77)); then
      log "logs of the failed run:"
      timeout 30 "${COMPOSE_BASE[@]}" logs --no-color --tail 40 2>&1 | sed 's/^/    /'
    fi
    log "tearing down: compose down -v, then dockerd $DOCKERD_PID"
    timeout 60 "${COMPOSE_BASE[@]}" -f "$STATIC_FILE" down -v --remove-orphans -t 10 >/dev/null 2>&1
    timeout 60 "$DOCKER" container prune -f >/dev/null 2>&1
    timeout 60 "$DOCKER" image prune -f >/dev/null 2>&1  # older builds (the current ones are tagged)
    kill "$DOCKERD_PID"
    for _ in $(seq 40); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$DOCKERD_PID" 2>/dev/null && { log "dockerd ignored SIGTERM: SIGKILL"; kill -9 "$DOCKERD_PID"; }
    wait "$DOCKERD_PID" 2>/dev/null
  fi
  [[ -n $policy_before ]] && iptables -P FORWARD "$policy_before" 2>/dev/null
  [[ -n $fwd_before ]] && echo "$fwd_before" >/proc/sys/net/ipv4/ip_forward 2>/dev/null
  log "done (exit $rc)"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "starting dockerd (data root $BASE/data, socket $SOCK)"
rm -f "$SOCK"
/usr/sbin/dockerd \
  --data-root "$BASE/data" --exec-root "$BASE/exec" \
  -H "unix://$SOCK" --pidfile "$BASE/run/dockerd.pid" \
  --default-ulimit nofile=20000:20000 \
  >"$BASE/dockerd.log" 2>&1 &
DOCKERD_PID=$!
for _ in $(seq 60); do
  dk version >/dev/null 2>&1 && break
  kill -0 "$DOCKERD_PID" 2>/dev/null || break
  sleep 1
done
if ! dk version >/dev/null 2>&1; then
  reason=$(grep -E 'level=(error|fatal)|failed' "$BASE/dockerd.log" | tail -1 | cut -c1-200)
  skip "dockerd did not start: ${reason:-see $BASE/dockerd.log}"
fi
log "dockerd $(dk version -f '{{.Server.Version}}') up"

# ---- 3. base image -----------------------------------------------------------
if ! dk image inspect debian:bookworm >/dev/null 2>&1; then
  mirror=${P2P_DEBIAN_MIRROR:-}
  if [[ -z $mirror ]]; then
    mirror=$( { cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
                awk '/^URIs:/{u=$2} /^Suites:/&&/bookworm/&&u~/debian\/?$/{print u; exit}';
              grep -h '^deb .* bookworm ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
                awk '{print $2}'; } | head -1 || true)
  fi
  mirror=${mirror:-http://deb.debian.org/debian}
  log "making debian:bookworm with debootstrap from $mirror"
  rm -rf "$BASE/rootfs"
  debootstrap --variant=minbase bookworm "$BASE/rootfs" "$mirror" >"$BASE/debootstrap.log" 2>&1 ||
    skip "debootstrap failed (see $BASE/debootstrap.log)"
  rm -rf "$BASE"/rootfs/var/cache/apt/archives/*.deb "$BASE"/rootfs/var/lib/apt/lists/*
  tar -C "$BASE/rootfs" --numeric-owner -c . | dk import - debian:bookworm >/dev/null ||
    skip "docker import of the debootstrap tree failed"
  rm -rf "$BASE/rootfs"
fi

# ---- 4. image ------------------------------------------------------------------
# The build stage is tagged too (p2p-build:cache): untagged, the image prune
# at teardown would drop it and with it the cached layer of build-deps.
# P2P_DOCKER_FROM_HEAD=1 builds the committed tree (git archive HEAD) instead
# of the working tree.
docker_build() {
  if [[ ${P2P_DOCKER_FROM_HEAD:-0} == 1 ]]; then
    git -C "$ROOT" archive --format=tar HEAD |
      timeout 1800 "$DOCKER" build -f docker/Dockerfile "$@" -
  else
    timeout 1800 "$DOCKER" build -f "$ROOT/docker/Dockerfile" "$@" "$ROOT"
  fi
}
log "building p2p:latest from the $([[ ${P2P_DOCKER_FROM_HEAD:-0} == 1 ]] && echo "committed" || echo "working") tree (log in $BASE/build.log)"
t=$SECONDS
{ docker_build --target build -t p2p-build:cache && docker_build -t p2p:latest; } >"$BASE/build.log" 2>&1 ||
  { tail -30 "$BASE/build.log" >&2; fail "docker build failed"; }
BUILD_S=$((SECONDS - t))
IMAGE_BYTES=$(dk image inspect -f '{{.Size}}' p2p:latest)
log "image p2p:latest: $IMAGE_BYTES bytes ($((IMAGE_BYTES / 1000000)) MB), built in ${BUILD_S}s"

# ---- helpers -------------------------------------------------------------------
cli() { local node=$1; shift; timeout 120 "${COMPOSE[@]}" exec -T "$node" p2p-cli "$@"; }
sh_in() { local node=$1; shift; timeout 120 "${COMPOSE[@]}" exec -T "$node" sh -c "$*"; }

wait_healthy() {
  local deadline=$((SECONDS + 90)) n id st
  for n in node1 node2 node3; do
    id=$("${COMPOSE[@]}" ps -q "$n")
    [[ -n $id ]] || fail "$n has no container"
    while :; do
      st=$(dk inspect -f '{{.State.Health.Status}}' "$id")
      [[ $st == healthy ]] && break
      ((SECONDS < deadline)) || fail "$n not healthy after 90 s (status $st)"
      sleep 1
    done
  done
}

# Waits until `ls` on $1 lists $2 with at least $3 seeders.
wait_listed() {
  local node=$1 name=$2 want=$3 deadline=$((SECONDS + 30)) out
  while :; do
    cli "$node" scan >/dev/null || true
    out=$(cli "$node" --json ls || true)
    # seeders of the entry named $name: count the addresses in its array
    if grep -q "\"name\":\"$name\"" <<<"$out"; then
      local seeders
      seeders=$(sed -n "s/.*\"name\":\"$name\"[^]]*\"seeders\":\[\([^]]*\)\].*/\1/p; s/.*\"seeders\":\[\([^]]*\)\][^}]*\"name\":\"$name\".*/\1/p" <<<"$out" |
                head -1 | tr ',' '\n' | grep -c . || true)
      ((seeders >= want)) && return 0
    fi
    ((SECONDS < deadline)) || { echo "$out" >&2; fail "$node does not list $name with $want seeder(s) after 30 s"; }
    sleep 1
  done
}

# ---- 5. multicast --------------------------------------------------------------
log "multicast: docker-compose up (project $PROJECT, three daemons, no --peer)"
t=$SECONDS
timeout 120 "${COMPOSE[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
timeout 120 "${COMPOSE[@]}" up -d --no-build >/dev/null 2>&1 || fail "docker-compose up failed"
wait_healthy
log "all three healthy in $((SECONDS - t))s"

uid=$(sh_in node1 'id -u')
[[ $uid != 0 ]] || fail "the daemon runs as root in the container"

sum_src=$(sh_in node1 "head -c $((FILE_MB * 1048576)) /dev/urandom >/data/demo.bin && sha256sum </data/demo.bin" | awk '{print $1}')
cli node1 share /data/demo.bin
wait_listed node2 demo.bin 1
peers2=$(cli node2 --json peers)
grep -q '"source":"multicast"' <<<"$peers2" || { echo "$peers2" >&2; fail "node2 saw no peer by multicast"; }
MULTICAST=yes
log "node2 found node1 by multicast; downloading ${FILE_MB} MiB"
t=$SECONDS
cli node2 download -f demo.bin -o /downloads -w
DL2_S=$((SECONDS - t))
sum2=$(sh_in node2 'sha256sum </downloads/demo.bin' | awk '{print $1}')
[[ $sum2 == "$sum_src" ]] || fail "node2's copy differs: $sum2 != $sum_src"
log "node2: bytes match ($sum2) in ${DL2_S}s"

cli node2 share /downloads/demo.bin
wait_listed node3 demo.bin 2
t=$SECONDS
cli node3 download -f demo.bin -o /downloads -w
DL3_S=$((SECONDS - t))
sum3=$(sh_in node3 'sha256sum </downloads/demo.bin' | awk '{print $1}')
[[ $sum3 == "$sum_src" ]] || fail "node3's copy differs: $sum3 != $sum_src"
cli node3 status
log "node3: bytes match, from two seeders, in ${DL3_S}s"

# SIGTERM stops the daemon cleanly (exit 0) well within docker's 10 s.
id1=$("${COMPOSE[@]}" ps -q node1)
t=$SECONDS
dk stop -t 10 "$id1" >/dev/null
code=$(dk inspect -f '{{.State.ExitCode}}' "$id1")
[[ $code == 0 ]] || fail "node1 exited $code on SIGTERM"
log "docker stop node1: exit 0 in $((SECONDS - t))s"
timeout 120 "${COMPOSE[@]}" down -v --remove-orphans >/dev/null 2>&1

# ---- 6. static peers -------------------------------------------------------------
log "static peers: --no-multicast, --peer by service name, internal network"
COMPOSE=("${COMPOSE_BASE[@]}" -f "$STATIC_FILE")
timeout 120 "${COMPOSE[@]}" up -d --no-build >/dev/null 2>&1 || fail "docker-compose up (static peers) failed"
wait_healthy
[[ $(dk network inspect -f '{{.Internal}}' "${PROJECT}_p2pnet") == true ]] || fail "network is not internal"
sum_src=$(sh_in node3 "head -c $((FILE_MB * 1048576 / 4)) /dev/urandom >/data/static.bin && sha256sum </data/static.bin" | awk '{print $1}')
cli node3 share /data/static.bin
wait_listed node1 static.bin 1
peers1=$(cli node1 --json peers)
grep -q '"source":"multicast"' <<<"$peers1" && fail "a peer came by multicast with --no-multicast"
cli node1 download -f static.bin -o /downloads -w
sum1=$(sh_in node1 'sha256sum </downloads/static.bin' | awk '{print $1}')
[[ $sum1 == "$sum_src" ]] || fail "static-peers copy differs: $sum1 != $sum_src"
log "static peers: node1 got node3's file, bytes match"

echo "RESULT image_bytes=$IMAGE_BYTES build_s=$BUILD_S multicast=$MULTICAST dl_${FILE_MB}MiB_one_seeder_s=$DL2_S dl_two_seeders_s=$DL3_S total_s=$((SECONDS - T0))"
log "PASSED"
