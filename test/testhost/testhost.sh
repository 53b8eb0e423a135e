#!/usr/bin/env bash
# testhost.sh: boot disposable Debian 12 test hosts for mailhost's e2e tests.
#
# A host is a systemd-nspawn container booting real systemd on a fresh overlayfs
# of the rootfs that build-image.sh cached, inside its own network namespace.
# Every resource of host N carries the id N, so several hosts can run at once
# and cleanup never touches anything that another host (or anybody else) owns:
#   run dir      $MAILHOST_TESTHOST_RUN/N (default /run/mailhost-testhost/N):
#                upper/ work/ merged/ (overlay), nspawn.pid, leader.pid,
#                console.log, image
#   netns        mh-tN                (/run/netns/mh-tN)
#   veth pair    mh-hN (host side: 10.210.N.1/24 and 10.210.N.3/24)
#                mh-cN (in mh-tN:   10.210.N.2/24)
#   nspawn       --machine=mh-tN
#
# Usage: testhost.sh up N | reboot N | down N | ssh N [cmd...] | env N | status N | deps
set -euo pipefail

CACHE=${MAILHOST_TESTHOST_CACHE:-/var/cache/mailhost-testhost}
RUNROOT=${MAILHOST_TESTHOST_RUN:-/run/mailhost-testhost}
SSH_KEY=$CACHE/id_ed25519
SSH_PORT=22
BOOT_TIMEOUT=${MAILHOST_TESTHOST_BOOT_TIMEOUT:-120}
STOP_TIMEOUT=${MAILHOST_TESTHOST_STOP_TIMEOUT:-15}

log() { printf 'testhost: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

need_root() { [ "$(id -u)" = 0 ] || die "must run as root (mounts, netns, systemd-nspawn)"; }

# set_id N: validates N and sets every per-host name.
set_id() {
  if ! [[ "${1:-}" =~ ^[0-9]{1,3}$ ]] || [ "$((10#$1))" -lt 1 ] || [ "$((10#$1))" -gt 254 ]; then
    die "host id must be an integer 1..254, got '${1:-}'"
  fi
  N=$((10#$1))
  RUN=$RUNROOT/$N
  NS=mh-t$N
  VH=mh-h$N
  VC=mh-c$N
  MACHINE=mh-t$N
  HOST_IP=10.210.$N.2
  CLIENT_IP=10.210.$N.1
  UNTRUSTED_IP=10.210.$N.3
  ssh_opts
}

# BindAddress: the source address exists only while host N's veth does, so ssh to a
# host that is down fails at once instead of sending packets out the default route.
ssh_opts() {
  SSH_OPTS=(-i "$SSH_KEY" -p "$SSH_PORT" -o BindAddress="$CLIENT_IP" -o BatchMode=yes -o IdentitiesOnly=yes
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o GlobalKnownHostsFile=/dev/null
    -o LogLevel=ERROR -o ConnectTimeout=5 -o ServerAliveInterval=5 -o ServerAliveCountMax=6)
}

# shellcheck disable=SC2029 # commands are meant to expand on the host
host_ssh() { ssh "${SSH_OPTS[@]}" "root@$HOST_IP" "$@"; }

# pid_alive FILE: the pid in FILE is a live (non-zombie) systemd-nspawn for this host.
pid_alive() {
  local pid state cmd
  [ -s "$1" ] || return 1
  pid=$(cat "$1")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/stat" ] || return 1
  state=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ] || return 1
  # guard against pid reuse; the starter bash carries the same arguments until it
  # execs nspawn (and cmdline can read empty during that exec)
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 0
  [ -z "$cmd" ] || [[ "$cmd" == *"systemd-nspawn "*"--machine=$MACHINE "* ]]
}

# leader_alive: the container's PID 1 (as seen from the host) is still there.
leader_alive() {
  local pid state
  [ -s "$RUN/leader.pid" ] || return 1
  pid=$(cat "$RUN/leader.pid")
  [[ "$pid" =~ ^[0-9]+$ ]] && [ -r "/proc/$pid/stat" ] || return 1
  state=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$state" ] && [ "$state" != Z ] || return 1
  # must still be in a pid namespace other than ours (guards against pid reuse)
  [ "$(readlink "/proc/$pid/ns/pid" 2>/dev/null)" != "$(readlink /proc/self/ns/pid)" ]
}

# record_leader: find nspawn's child living in another pid namespace (the container's init).
record_leader() {
  local npid c
  npid=$(cat "$RUN/nspawn.pid")
  # shellcheck disable=SC2013 # the children files are space-separated pid lists
  for c in $(cat /proc/"$npid"/task/*/children 2>/dev/null); do
    if [ "$(readlink "/proc/$c/ns/pid" 2>/dev/null)" != "$(readlink /proc/self/ns/pid)" ]; then
      echo "$c" >"$RUN/leader.pid"
      return 0
    fi
  done
  return 1
}

image_dir() {
  local img=${MAILHOST_TESTHOST_IMAGE:-}
  if [ -z "$img" ]; then
    [ -e "$CACHE/current" ] || die "no image in $CACHE: run test/testhost/build-image.sh first"
    img=$(readlink -f "$CACHE/current")
  fi
  if [ ! -f "$img/.complete" ] || [ ! -d "$img/rootfs" ] || [ ! -d "$img/repo" ]; then
    die "image $img is incomplete: run test/testhost/build-image.sh"
  fi
  echo "$img"
}

mount_overlay() {
  local img
  img=$(cat "$RUN/image")
  mkdir -p "$RUN/upper" "$RUN/work" "$RUN/merged"
  mountpoint -q "$RUN/merged" ||
    mount -t overlay "overlay-$MACHINE" \
      -o "lowerdir=$img/rootfs,upperdir=$RUN/upper,workdir=$RUN/work" "$RUN/merged"
}

# prepare_fs: fix-ups of a fresh overlay (not on reboot: the host's disk is
# then exactly what the program under test left). The image has both already;
# this only guards against a key pair made after the image.
prepare_fs() {
  local m=$RUN/merged
  if ! cmp -s "$SSH_KEY.pub" "$m/root/.ssh/authorized_keys"; then
    install -d -m 700 "$m/root/.ssh"
    install -m 600 "$SSH_KEY.pub" "$m/root/.ssh/authorized_keys"
  fi
  if [ -L "$m/etc/resolv.conf" ] || ! grep -qx 'nameserver 127.0.0.1' "$m/etc/resolv.conf" 2>/dev/null; then
    rm -f "$m/etc/resolv.conf"
    printf 'nameserver 127.0.0.1\n' >"$m/etc/resolv.conf"
  fi
}

net_up() {
  ip netns add "$NS"
  ip link add "$VH" type veth peer name "$VC" netns "$NS"
  ip addr add "$CLIENT_IP/24" dev "$VH"
  ip addr add "$UNTRUSTED_IP/24" dev "$VH"
  ip link set "$VH" up
  ip -n "$NS" link set lo up
  ip -n "$NS" addr add "$HOST_IP/24" dev "$VC"
  ip -n "$NS" link set "$VC" up
}

net_down() {
  if [ -e "/run/netns/$NS" ] || ip netns list 2>/dev/null | grep -qw "^$NS"; then
    ip netns del "$NS" 2>/dev/null || true
  fi
  # deleting the netns destroys the pair; these catch a half-made one
  if ip link show "$VH" >/dev/null 2>&1; then ip link del "$VH" 2>/dev/null || true; fi
  if ip link show "$VC" >/dev/null 2>&1; then ip link del "$VC" 2>/dev/null || true; fi
}

# cgroup_dirs: this host's own cgroup in each hierarchy systemd uses (cgroup2 and
# the v1 name=systemd one). Without them every container started from the same
# cgroup shares one "payload" cgroup on the host, so the hosts' systemds would
# manage each other's service cgroups.
cgroup_dirs() {
  awk -v n="mailhost-testhost-$N" '
    $3 == "cgroup2" || ($3 == "cgroup" && $4 ~ /(^|,)name=systemd(,|$)/) { print $2 "/" n }
  ' /proc/mounts
}

cgroups_remove() {
  local cg
  for cg in $(cgroup_dirs); do
    if [ -d "$cg" ]; then find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
  done
}

# cgroups_kill: last resort, kills every process left in this host's cgroups.
cgroups_kill() {
  local cg p
  for cg in $(cgroup_dirs); do
    [ -d "$cg" ] || continue
    if [ -e "$cg/cgroup.kill" ]; then echo 1 >"$cg/cgroup.kill" 2>/dev/null || true; fi
    find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null | while read -r p; do
      kill -KILL "$p" 2>/dev/null || true
    done
  done
}

start_container() {
  local img cgs
  img=$(cat "$RUN/image")
  cgs=$(cgroup_dirs | tr '\n' ' ')
  rm -f "$RUN/nspawn.pid" "$RUN/leader.pid"
  # setsid: the container outlives this script and the caller's terminal.
  # The inner bash writes its own pid, moves into this host's cgroups, then
  # becomes systemd-nspawn.
  # shellcheck disable=SC2016 # $$, $0, $1 expand in the inner bash
  setsid bash -c 'echo $$ >"$0"
    for cg in $1; do mkdir -p "$cg" && echo $$ >"$cg/cgroup.procs"; done
    shift; exec "$@"' "$RUN/nspawn.pid" "$cgs" \
    systemd-nspawn -D "$RUN/merged" -b --machine="$MACHINE" \
    --register=no --keep-unit \
    --network-namespace-path="/run/netns/$NS" \
    --capability=CAP_NET_ADMIN,CAP_NET_RAW \
    --console=read-only --resolv-conf=off --timezone=off --link-journal=no \
    --bind-ro="$img/repo:/srv/mailhost-apt" \
    </dev/null >>"$RUN/console.log" 2>&1 &
  local i exe
  for i in $(seq 100); do
    if [ -s "$RUN/nspawn.pid" ]; then
      exe=$(readlink "/proc/$(cat "$RUN/nspawn.pid")/exe" 2>/dev/null) || exe=
      [[ "$exe" == */systemd-nspawn ]] && return 0
    fi
    sleep 0.05
  done
  die "systemd-nspawn did not start"
}

# wait_ready T0: until `systemctl is-system-running --wait` answers over SSH.
wait_ready() {
  local t0=$1 deadline state left
  deadline=$(($(date +%s) + BOOT_TIMEOUT))
  while :; do
    pid_alive "$RUN/nspawn.pid" || { tail -n 40 "$RUN/console.log" >&2; log "container of host $N exited during boot"; return 1; }
    [ -s "$RUN/leader.pid" ] || record_leader || true
    left=$((deadline - $(date +%s)))
    if state=$(timeout "$((left > 1 ? left : 1))" ssh "${SSH_OPTS[@]}" -o ConnectTimeout=1 "root@$HOST_IP" \
      'systemctl is-system-running --wait 2>/dev/null; true' 2>/dev/null) && [ -n "$state" ]; then
      break
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      tail -n 40 "$RUN/console.log" >&2
      log "host $N: no SSH answer within ${BOOT_TIMEOUT}s"
      return 1
    fi
    sleep 0.2
  done
  [ -s "$RUN/leader.pid" ] || record_leader || true
  log "host $N up at $HOST_IP in $(since "$t0")s (systemd: $state)"
  if [ "$state" != running ]; then
    host_ssh 'systemctl --failed --no-legend --plain' >&2 || true
  fi
}

# stop_container: clean poweroff, SIGTERM, then SIGKILL, all by recorded pid.
stop_container() {
  local i
  pid_alive "$RUN/nspawn.pid" || { kill_leader; cgroups_kill; return 0; }
  # guest-initiated poweroff, as on a real host. If SSH does not take it,
  # SIGTERM makes nspawn ask the container's systemd to power off (SIGRTMIN+3).
  local term=30
  timeout 5 ssh "${SSH_OPTS[@]}" -o ConnectTimeout=2 "root@$HOST_IP" \
    'systemctl poweroff --no-block' >/dev/null 2>&1 || term=1
  for i in $(seq $((STOP_TIMEOUT * 10))); do
    pid_alive "$RUN/nspawn.pid" || break
    # repeated: nspawn ignores a SIGTERM that comes before the container runs
    if [ "$i" -ge "$term" ] && [ $(((i - term) % 10)) = 0 ]; then
      kill -TERM "$(cat "$RUN/nspawn.pid")" 2>/dev/null || true
    fi
    sleep 0.1
  done
  if pid_alive "$RUN/nspawn.pid"; then
    log "host $N did not stop within ${STOP_TIMEOUT}s: killing it"
    kill -KILL "$(cat "$RUN/nspawn.pid")" 2>/dev/null || true
    for i in $(seq 50); do pid_alive "$RUN/nspawn.pid" || break; sleep 0.1; done
  fi
  kill_leader
  cgroups_kill
}

kill_leader() {
  local i
  leader_alive || return 0
  # killing a pid namespace's init kills everything in that namespace
  kill -KILL "$(cat "$RUN/leader.pid")" 2>/dev/null || true
  for i in $(seq 50); do leader_alive || return 0; sleep 0.1; done
  log "warning: container init $(cat "$RUN/leader.pid") of host $N is still alive"
}

umount_overlay() {
  local i
  [ -d "$RUN/merged" ] || return 0
  for i in $(seq 20); do
    mountpoint -q "$RUN/merged" || return 0
    umount "$RUN/merged" 2>/dev/null && return 0
    sleep 0.25
  done
  log "warning: $RUN/merged busy, detaching it lazily"
  umount -l "$RUN/merged"
}

up_exit() {
  local rc=$?
  if [ -z "$UP_OK" ]; then
    log "up $N failed, cleaning up"
    do_down || true
  fi
  exit "$rc"
}

cmd_up() {
  need_root
  set_id "${1:-}"
  local t0 img
  t0=$(now)
  pid_alive "$RUN/nspawn.pid" && die "host $N is already up (testhost.sh down $N first)"
  [ -s "$SSH_KEY" ] || die "no SSH key $SSH_KEY: run test/testhost/build-image.sh first"
  img=$(image_dir)
  command -v systemd-nspawn >/dev/null || die "systemd-nspawn missing: run testhost.sh deps"
  do_down # leftovers of an earlier failed run of this id
  mkdir -p "$RUN"
  echo "$img" >"$RUN/image"
  UP_OK=
  # an ERR trap would not fire for failures inside functions: use EXIT
  trap up_exit EXIT
  mount_overlay
  prepare_fs
  net_up
  start_container
  wait_ready "$t0"
  UP_OK=1
}

cmd_reboot() {
  need_root
  set_id "${1:-}"
  local t0
  t0=$(now)
  if [ ! -f "$RUN/image" ] || ! mountpoint -q "$RUN/merged"; then die "host $N is not up"; fi
  if [ -S "$RUN/ssh-mux" ]; then
    ssh -o ControlPath="$RUN/ssh-mux" -O exit "root@$HOST_IP" >/dev/null 2>&1 || true
  fi
  stop_container
  umount_overlay
  log "host $N stopped in $(since "$t0")s"
  t0=$(now)
  mount_overlay
  [ -e "/run/netns/$NS" ] || net_up
  start_container
  wait_ready "$t0"
}

# do_down: idempotent, safe after a half-finished up.
do_down() {
  # an ssh ControlMaster that testhost.ts may have left on this host (sshMultiplex)
  if [ -S "$RUN/ssh-mux" ]; then
    ssh -o ControlPath="$RUN/ssh-mux" -O exit "root@$HOST_IP" >/dev/null 2>&1 || true
  fi
  stop_container
  umount_overlay
  net_down
  cgroups_remove
  # nspawn's own per-machine runtime dirs on the host
  rm -rf "/run/systemd/nspawn/propagate/$MACHINE" "/run/systemd/nspawn/unix-export/$MACHINE" 2>/dev/null || true
  if [ -d "$RUN" ]; then
    if grep -q " $RUN/" /proc/mounts; then
      log "warning: something is still mounted under $RUN; leaving it"
      return 1
    fi
    rm -rf --one-file-system "$RUN"
  fi
}

cmd_down() {
  need_root
  set_id "${1:-}"
  local t0
  t0=$(now)
  do_down
  log "host $N down in $(since "$t0")s"
}

cmd_ssh() {
  set_id "${1:-}"
  shift
  [ -r "$SSH_KEY" ] || die "no SSH key $SSH_KEY"
  exec ssh "${SSH_OPTS[@]}" "root@$HOST_IP" "$@"
}

cmd_env() {
  set_id "${1:-}"
  printf 'HOST_IP=%s\nCLIENT_IP=%s\nUNTRUSTED_IP=%s\nSSH_KEY=%s\nSSH_PORT=%s\nRUN_DIR=%s\n' \
    "$HOST_IP" "$CLIENT_IP" "$UNTRUSTED_IP" "$SSH_KEY" "$SSH_PORT" "$RUN"
}

cmd_status() {
  set_id "${1:-}"
  if pid_alive "$RUN/nspawn.pid"; then
    echo "up pid=$(cat "$RUN/nspawn.pid") ip=$HOST_IP image=$(cat "$RUN/image")"
  else
    echo down
    return 1
  fi
}

# deps: install what the builder and the e2e tests need on this machine (clients only).
DEPS=( # package:command that proves it is there
  mmdebstrap:mmdebstrap systemd-container:systemd-nspawn iproute2:ip
  openssh-client:ssh apt-utils:apt-ftparchive swaks:swaks dnsutils:dig
  openssl:openssl python3:python3 s-nail:s-nail shellcheck:shellcheck
  util-linux:setsid debian-archive-keyring:/usr/share/keyrings/debian-archive-keyring.gpg
  pebble:pebble
)
cmd_deps() {
  local missing=() d pkg chk
  for d in "${DEPS[@]}"; do
    pkg=${d%%:*}
    chk=${d#*:}
    if [[ "$chk" == /* ]]; then [ -e "$chk" ] && continue; else command -v "$chk" >/dev/null && continue; fi
    missing+=("$pkg")
  done
  if [ ${#missing[@]} = 0 ]; then
    log "deps: everything is present"
    return 0
  fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null || ! grep -qiE '^(ID|ID_LIKE)=.*(debian|ubuntu)' /etc/os-release 2>/dev/null; then
    log "deps: missing packages (install them as root on Debian/Ubuntu): ${missing[*]}"
    printf '%s\n' "${missing[@]}"
    return 1
  fi
  log "deps: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  log "deps: installed ${missing[*]}"
}

case "${1:-}" in
  up | reboot | down | ssh | env | status)
    c=$1
    shift
    "cmd_$c" "$@"
    ;;
  deps) cmd_deps ;;
  *)
    sed -n '2,16s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
    exit 2
    ;;
esac
