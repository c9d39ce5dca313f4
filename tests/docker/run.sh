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
#      data root for the next run; P2P_DOCKER_CLEAN=1 wipes it first: a cold run);
#   8. puts the host back as it found it before dockerd started (saved in
#      $P2P_DOCKER_ROOT/host-state): iptables and ip6tables tables (dockerd's
#      chains, FORWARD and MASQUERADE rules, the FORWARD policy), interfaces it
#      made (docker0, br-*, veth*), net.* sysctls (ip_forward, bridge-nf-*);
#      then compares and fails if anything still differs.
# `run.sh down` tears down a run kept with P2P_DOCKER_KEEP=1 (or one killed
# hard) the same way: containers, dockerd, host state.
# Exit: 0 passed, 1 failed, 77 skipped (prints "SKIPPED: reason") where docker
# cannot run here (not root, no apt, dockerd does not start, no base image).
# Env: P2P_DOCKER_ROOT, P2P_DOCKER_CLEAN=1, P2P_DOCKER_FILE_MB (default 64),
#      P2P_DEBIAN_MIRROR (default: the first bookworm URI apt is configured with),
#      P2P_DOCKER_FROM_HEAD=1 (build git HEAD, not the working tree),
#      P2P_DOCKER_KEEP=1 (leave the containers and dockerd running, for poking),
#      P2P_DOCKER_BIN_DIR=DIR (quick: the image from DIR's binaries, no
#      debootstrap and no compile; ctest's docker_demo_quick).
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
# pids of the processes with $BASE/lock open
lock_holders() {
  local fd pids=()
  for fd in /proc/[0-9]*/fd/*; do
    [[ $fd -ef $BASE/lock ]] || continue
    fd=${fd#/proc/}; fd=${fd%%/*}
    [[ $fd == "$BASHPID" ]] || pids+=("$fd")  # not the $( ) subshell asking
  done
  printf '%s\n' "${pids[@]}" | sort -un | paste -sd' '
}
fail() { echo "FAILED: $*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || skip "needs root to start its own dockerd"

# ---- 1. tools -------------------------------------------------------------
MODE=${1:-run}
[[ $MODE == run || $MODE == down ]] || { echo "usage: $0 [down]" >&2; exit 2; }
need=()
[[ -x /usr/sbin/dockerd ]] || need+=(docker.io)
command -v iptables-save >/dev/null || need+=(iptables)
command -v nft >/dev/null || need+=(nftables)
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
# The lock is fd 9 of this shell only: every long-lived child (dockerd and what
# it starts) gets `9>&-`, so a kept or killed run does not leave the lock held.
exec 9>"$BASE/lock"
flock -n 9 || skip "another run holds $BASE/lock ($(lock_holders))"
if [[ ${P2P_DOCKER_CLEAN:-0} == 1 && $MODE == run ]]; then
  log "P2P_DOCKER_CLEAN=1: wiping $BASE/data (cold run)"
  rm -rf "$BASE/data" "$BASE/exec"
fi
mkdir -p "$BASE/data" "$BASE/exec" "$BASE/run"
DOCKERD_PID=""
# A dockerd left by a kept run or one killed hard: stop it, it holds our paths.
# Every container of this private dockerd goes (the demo's own, and those of a
# `docker-compose up` run by hand against a kept run), with its network and
# volumes: a restart policy would bring them back at the next start.
stop_dockerd() {
  local pid=$1
  timeout 60 "${COMPOSE_BASE[@]}" -f "$STATIC_FILE" down -v --remove-orphans -t 10 >/dev/null 2>&1
  local ids
  ids=$(timeout 30 "$DOCKER" ps -aq 2>/dev/null)
  [[ -n $ids ]] && timeout 60 "$DOCKER" rm -f -v $ids >/dev/null 2>&1
  timeout 60 "$DOCKER" network prune -f >/dev/null 2>&1
  timeout 60 "$DOCKER" volume prune -f >/dev/null 2>&1
  kill "$pid" 2>/dev/null
  for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -0 "$pid" 2>/dev/null && { log "dockerd $pid ignored SIGTERM: SIGKILL"; kill -9 "$pid"; sleep 1; }
  wait "$pid" 2>/dev/null || true
}
if [[ -s $BASE/run/dockerd.pid ]] && kill -0 "$(cat "$BASE/run/dockerd.pid")" 2>/dev/null; then
  # ctest's quick run leaves a run kept by hand alone.
  [[ $MODE == run && -n ${P2P_DOCKER_BIN_DIR:-} ]] &&
    skip "a kept run's dockerd (pid $(cat "$BASE/run/dockerd.pid")) is up; '$0 down' ends it"
  log "stopping a leftover dockerd (pid $(cat "$BASE/run/dockerd.pid")) and its containers"
  stop_dockerd "$(cat "$BASE/run/dockerd.pid")"
fi

# ---- host state: what dockerd changes, saved before it starts -----------------
# dockerd adds iptables chains and rules (FORWARD, MASQUERADE for docker0), sets
# the FORWARD policy to DROP, turns ip_forward on and makes bridges and veths.
# Saved once: a state left by a kept or killed run is the original, keep it.
STATE=$BASE/host-state
host_links() { ip -o link show | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | sort; }
host_sysctls() {  # net.* values, without the per-interface keys of interfaces made later
  sysctl -a 2>/dev/null | grep -E '^net\.(ipv4|ipv6|bridge)\.' |
    grep -vE '^net\.ipv4\.(route|neigh)\.|^net\.ipv6\.(route|neigh)\.|^net\.ipv6\.conf\.[^.]+\.stable_secret' |
    grep -vE '^net\.ipv[46]\.(conf|neigh)\.(docker0|br-[0-9a-f]+|veth[0-9a-f]+)\.' | sort
}
host_tables() {  # rules and policies, without packet counters
  { iptables-save 2>/dev/null; echo '#ip6'; ip6tables-save 2>/dev/null; } |
    sed -e 's/\[[0-9]*:[0-9]*\]$//' -e '/^#/{/^#ip6$/!d}' | sed 's/ *$//'
}
save_host_state() {
  [[ -d $STATE ]] && { log "keeping the host state saved by an earlier run ($STATE)"; return; }
  mkdir -p "$STATE.new"
  iptables-save >"$STATE.new/iptables" 2>/dev/null || true
  ip6tables-save >"$STATE.new/ip6tables" 2>/dev/null || true
  host_tables >"$STATE.new/tables"
  host_links >"$STATE.new/links"
  host_sysctls >"$STATE.new/sysctls"
  mv "$STATE.new" "$STATE"
}
# Puts back what save_host_state saw; dockerd must be stopped. Returns 1 and
# prints the difference if the host still differs afterwards.
restore_host_state() {
  [[ -d $STATE ]] || return 0
  local t fam save restore
  for fam in 4 6; do
    if [[ $fam == 4 ]]; then save=iptables-save restore=iptables-restore f=$STATE/iptables
    else save=ip6tables-save restore=ip6tables-restore f=$STATE/ip6tables; fi
    command -v $save >/dev/null || continue
    # tables dockerd made that were not there: flush them, then drop them
    for t in $($save 2>/dev/null | sed -n 's/^\*//p'); do
      grep -qx "\*$t" "$f" && continue
      printf '*%s\nCOMMIT\n' "$t" | $restore 2>/dev/null  # empty the table
      if iptables -V 2>/dev/null | grep -q nf_tables && command -v nft >/dev/null; then
        nft delete table "$([[ $fam == 4 ]] && echo ip || echo ip6)" "$t" 2>/dev/null
      fi
    done
    # tables that were there: back to exactly their saved rules and policies
    [[ -s $f ]] && $restore <"$f"
  done
  # sysctls: ip_forward first (writing it rewrites every interface's forwarding),
  # then every other saved net.* value that differs now
  local line key val cur
  while IFS= read -r line; do
    key=${line%% = *}; val=${line#* = }
    cur=$(sysctl -n "$key" 2>/dev/null) || continue
    [[ $cur == "$val" ]] && continue
    sysctl -q -w "$key=$val" >/dev/null 2>&1 && log "  sysctl $key = $val (was $cur)"
  done < <(grep '^net.ipv4.ip_forward = ' "$STATE/sysctls"
           comm -23 "$STATE/sysctls" <(host_sysctls) | grep -v '^net.ipv4.ip_forward = ')
  local l
  for l in $(comm -13 "$STATE/links" <(host_links)); do
    [[ $l =~ ^(docker0|br-[0-9a-f]{12}|veth[0-9a-f]+)$ ]] && ip link delete "$l" 2>/dev/null
  done
  local diffs
  diffs=$( { diff <(cat "$STATE/tables") <(host_tables) | sed 's/^/  tables /';
             diff "$STATE/links" <(host_links) | sed 's/^/  links /';
             diff "$STATE/sysctls" <(host_sysctls) | sed 's/^/  sysctl /'; } | grep -E '^  [a-z]+ [<>]' )
  if [[ -n $diffs ]]; then
    log "the host differs from before dockerd started:"
    echo "$diffs" | head -40
    return 1
  fi
  rm -rf "$STATE"
  log "host state restored: iptables, interfaces and net.* sysctls as before dockerd started"
}

cleanup() {
  local rc=$?
  set +e
  if [[ ${P2P_DOCKER_KEEP:-0} == 1 && $MODE == run && -n $DOCKERD_PID ]]; then
    log "P2P_DOCKER_KEEP=1: leaving dockerd $DOCKERD_PID and the containers running"
    log "  export DOCKER_HOST=$DOCKER_HOST    # then docker-compose -p $PROJECT -f docker/compose.yaml ps"
    log "  $0 down                            # tears it down and restores the host"
    exit $rc
  fi
  if [[ -n $DOCKERD_PID ]] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
    if ((rc != 0 && rc != 77)); then
      log "logs of the failed run:"
      timeout 30 "${COMPOSE_BASE[@]}" logs --no-color --tail 40 2>&1 | sed 's/^/    /'
    fi
    log "tearing down: compose down -v, then dockerd $DOCKERD_PID"
    timeout 60 "$DOCKER" image prune -f >/dev/null 2>&1  # older builds (the current ones are tagged)
    stop_dockerd "$DOCKERD_PID"
  fi
  restore_host_state || { ((rc == 0 || rc == 77)) && rc=1; }
  log "done (exit $rc)"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ $MODE == down ]]; then
  log "down: containers and dockerd of a kept or killed run stopped; restoring the host"
  exit 0
fi
save_host_state

log "starting dockerd (data root $BASE/data, socket $SOCK)"
rm -f "$SOCK"
/usr/sbin/dockerd \
  --data-root "$BASE/data" --exec-root "$BASE/exec" \
  -H "unix://$SOCK" --pidfile "$BASE/run/dockerd.pid" \
  --default-ulimit nofile=20000:20000 \
  >"$BASE/dockerd.log" 2>&1 9>&- &
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
# Nothing but this shell may hold the lock (a dockerd holding it made every
# later run skip).
[[ $(lock_holders) == "$$" ]] || fail "the lock $BASE/lock is held by more than this run: $(lock_holders)"

# ---- 3+4, quick: the image from this host's binaries ------------------------
# P2P_DOCKER_BIN_DIR=DIR (ctest's docker_demo_quick: the suite's build/bin):
# no debootstrap, no compile. The host is Debian 12 like the real image; the
# image holds the two binaries, the shell tools the demo runs in a container
# (sh, head, sha256sum, id) and the shared libraries ldd names for them, with
# the real image's user, directories, variables and entry point. Tagged
# p2p:host; compose takes it through P2P_IMAGE.
quick_image() {
  local bin=$1 ctx=$BASE/quick-context f lib
  [[ -x $bin/p2p-daemon && -x $bin/p2p-cli ]] || fail "no p2p-daemon and p2p-cli in $bin"
  rm -rf "$ctx"; mkdir -p "$ctx/root/usr/local/bin" "$ctx/root/etc" "$ctx/root/tmp"
  install -m 0755 "$bin/p2p-daemon" "$bin/p2p-cli" "$ctx/root/usr/local/bin/"
  local tools=(/bin/sh /usr/bin/head /usr/bin/sha256sum /usr/bin/id)
  for f in "${tools[@]}"; do cp -L --parents "$f" "$ctx/root/"; done
  for lib in $(ldd "$bin/p2p-daemon" "$bin/p2p-cli" "${tools[@]}" | grep -o '/[^ ]*\.so[^ ]*' | sort -u); do
    cp -L --parents "$lib" "$ctx/root/"
  done
  chmod 1777 "$ctx/root/tmp"
  printf 'root:x:0:0::/root:/bin/sh\np2p:x:10001:10001::/var/lib/p2p:/usr/sbin/nologin\n' >"$ctx/root/etc/passwd"
  printf 'root:x:0:\np2p:x:10001:\n' >"$ctx/root/etc/group"
  # the user's directories: COPY takes no owner from the context, --chown gives it
  mkdir -p "$ctx/owned/var/lib/p2p" "$ctx/owned/data" "$ctx/owned/downloads"
  chmod 0750 "$ctx/owned/var/lib/p2p"
  cat >"$ctx/Dockerfile" <<'EOF'
FROM scratch
COPY root/ /
COPY --chown=10001:10001 owned/ /
ENV P2P_STATE_DIR=/var/lib/p2p PATH=/usr/local/bin:/usr/bin:/bin
USER p2p
WORKDIR /var/lib/p2p
VOLUME ["/var/lib/p2p", "/data", "/downloads"]
EXPOSE 7645/udp 7647/tcp
STOPSIGNAL SIGTERM
ENTRYPOINT ["p2p-daemon"]
EOF
  timeout 300 "$DOCKER" build -q -t p2p:host "$ctx" >"$BASE/build.log" 2>&1 ||
    { cat "$BASE/build.log" >&2; fail "docker build of the quick image failed"; }
  rm -rf "$ctx"
}
if [[ -n ${P2P_DOCKER_BIN_DIR:-} ]]; then
  export P2P_IMAGE=p2p:host
  log "quick: image p2p:host from $P2P_DOCKER_BIN_DIR (no debootstrap, no compile)"
  t=$SECONDS
  quick_image "$P2P_DOCKER_BIN_DIR"
  BUILD_S=$((SECONDS - t))
  IMAGE_BYTES=$(dk image inspect -f '{{.Size}}' p2p:host)
  log "image p2p:host: $IMAGE_BYTES bytes ($((IMAGE_BYTES / 1000000)) MB), built in ${BUILD_S}s"
else
export P2P_IMAGE=p2p:latest
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
# Built the way docker/README.md builds it, with docker-compose (its docker-py
# client): `docker-compose -f docker/compose.yaml build` afterwards finds every
# layer cached. (/usr/bin/docker sends the same files but the classic builder
# hashes its context differently: the COPY and the compile would not be
# reused.) The build stage is tagged too (p2p-build:cache), with docker-py
# like compose: untagged, the image prune at teardown would drop it and with
# it the cached compile. P2P_DOCKER_FROM_HEAD=1 builds the committed tree
# (git archive HEAD, unpacked under $BASE) instead of the working tree.
CONTEXT=$ROOT
if [[ ${P2P_DOCKER_FROM_HEAD:-0} == 1 ]]; then
  CONTEXT=$BASE/head-tree
  rm -rf "$CONTEXT" && mkdir -p "$CONTEXT"
  git -C "$ROOT" archive --format=tar HEAD | tar -C "$CONTEXT" -xf -
fi
build_stage() {
  CONTEXT=$CONTEXT timeout 1800 /usr/bin/python3 - <<'PY'
import os, sys
import docker
c = docker.APIClient(base_url=os.environ["DOCKER_HOST"], version="auto", timeout=1800)
ok = False
for chunk in c.build(path=os.environ["CONTEXT"], dockerfile="docker/Dockerfile", target="build",
                     tag="p2p-build:cache", rm=True, decode=True):
    if "error" in chunk:
        sys.exit("build stage: " + chunk["error"])
    text = chunk.get("stream", "")
    sys.stdout.write(text)
    ok = ok or text.startswith("Successfully tagged p2p-build:cache")
sys.exit(0 if ok else "build stage: no image tagged")
PY
}
log "building p2p:latest from the $([[ ${P2P_DOCKER_FROM_HEAD:-0} == 1 ]] && echo "committed" || echo "working") tree (log in $BASE/build.log)"
t=$SECONDS
{ build_stage && timeout 1800 docker-compose -p "$PROJECT" -f "$CONTEXT/docker/compose.yaml" build; } \
  >"$BASE/build.log" 2>&1 ||
  { tail -30 "$BASE/build.log" >&2; fail "docker build failed"; }
BUILD_S=$((SECONDS - t))
IMAGE_BYTES=$(dk image inspect -f '{{.Size}}' p2p:latest)
log "image p2p:latest: $IMAGE_BYTES bytes ($((IMAGE_BYTES / 1000000)) MB), built in ${BUILD_S}s"

fi

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
