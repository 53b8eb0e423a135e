#!/usr/bin/env bash
# build-image.sh: build (once) the Debian 12 test-host image for mailhost's e2e tests.
#
# Usage: build-image.sh [--force] [--prune] [--packages-file FILE] [PKG...]
#   PKG... / FILE (one package a line, # comments): what the local apt repository
#   must be able to install offline; default: the mail stack listed in DEFAULT_PKGS.
#   --force  rebuild even if cached    --prune  delete other images no host is using
#
# Result, under ${MAILHOST_TESTHOST_CACHE:-/var/cache/mailhost-testhost}:
#   id_ed25519{,.pub}       root's SSH key pair for every test host (made once)
#   images/HASH/rootfs/     bare Debian 12 server (minbase + BASE_PKGS), no mail stack;
#                           apt points only at file:/srv/mailhost-apt, lists already fetched
#   images/HASH/repo/       flat apt repository: the .debs of PKG... and of every
#                           dependency missing from rootfs (Packages, Release)
#   images/HASH/packages.txt  the package list the repo was built for
#   current -> images/HASH  the image testhost.sh boots (unless MAILHOST_TESTHOST_IMAGE is set)
# HASH covers this script, both package lists and the Debian mirrors, so a change of any
# of them builds a new image; otherwise the cached one is reused in well under a second.
# The last line on stdout is the image directory.
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
CACHE=${MAILHOST_TESTHOST_CACHE:-/var/cache/mailhost-testhost}
SUITE=bookworm

BASE_PKGS=systemd-sysv,udev,dbus,kmod,iproute2,iputils-ping,netbase,openssh-server,sudo,procps,less,ca-certificates,python3,openssl,util-linux,debconf-utils
DEFAULT_PKGS="postfix dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd bind9 bind9-utils bind9-dnsutils firewalld bsd-mailx opendkim opendkim-tools s-nail"

log() { printf 'build-image: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------------------
# customize hook: runs inside mmdebstrap (root mode, network available) with
# $1 = the rootfs; REPO_OUT, PKGS, PUBKEY come from the environment.
customize() {
  local root=$1
  export DEBIAN_FRONTEND=noninteractive
  # 1. download the requested packages plus every dependency the rootfs lacks
  rm -f "$root"/var/cache/apt/archives/*.deb
  # shellcheck disable=SC2086 # PKGS is a word list
  chroot "$root" apt-get install --download-only -y -q --no-install-recommends $PKGS >&2
  mkdir -p "$REPO_OUT"
  cp "$root"/var/cache/apt/archives/*.deb "$REPO_OUT"/
  (
    cd "$REPO_OUT"
    apt-ftparchive packages . >Packages 2>/dev/null
    gzip -9nk Packages
    apt-ftparchive -o APT::FTPArchive::Release::Origin=mailhost-testhost \
      -o APT::FTPArchive::Release::Label=mailhost-testhost release . >Release.new
    mv Release.new Release
  )
  chmod -R a+rX "$REPO_OUT"
  log "repo: $(find "$REPO_OUT" -name '*.deb' | wc -l) packages, $(du -sh "$REPO_OUT" | cut -f1)"

  # 2. apt: only the local repository (bind-mounted read-only at boot), lists shipped
  chroot "$root" apt-get clean
  rm -f "$root"/etc/apt/sources.list.d/* "$root"/etc/apt/apt.conf.d/99mmdebstrap
  printf 'deb [trusted=yes] file:/srv/mailhost-apt ./\n' >"$root/etc/apt/sources.list"
  mkdir -p "$root/srv/mailhost-apt"
  mount --bind "$REPO_OUT" "$root/srv/mailhost-apt"
  mount -o remount,bind,ro "$root/srv/mailhost-apt"
  local rc=0
  chroot "$root" apt-get update -q >&2 || rc=$?
  umount "$root/srv/mailhost-apt"
  [ "$rc" = 0 ] || die "apt-get update against the local repo failed"
  # the mirrors' lists are gone now (apt update drops lists of removed sources)
  rm -rf "$root"/var/lib/apt/lists/partial/* "$root"/var/cache/apt/*.bin

  # 3. a bare server: hostname, DNS on itself, root by key only
  echo testhost >"$root/etc/hostname"
  chmod 644 "$root/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\ttesthost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
  rm -f "$root/etc/resolv.conf"
  printf 'nameserver 127.0.0.1\n' >"$root/etc/resolv.conf"
  : >"$root/etc/fstab"
  install -d -m 700 "$root/root/.ssh"
  printf '%s\n' "$PUBKEY" >"$root/root/.ssh/authorized_keys"
  chmod 600 "$root/root/.ssh/authorized_keys"
  printf '%s\n' '# test host: root by key only' 'PermitRootLogin prohibit-password' \
    'PasswordAuthentication no' 'KbdInteractiveAuthentication no' 'UseDNS no' \
    '# testhost.ts may multiplex many commands over one connection' 'MaxSessions 64' \
    >"$root/etc/ssh/sshd_config.d/10-testhost.conf"
  # no network manager: addresses are set from outside through the netns;
  # nothing may wait for "network online"
  ln -sf /dev/null "$root/etc/systemd/system/systemd-networkd-wait-online.service"
  # a container has no consoles to spawn gettys on besides the one nspawn gives
  ln -sf /dev/null "$root/etc/systemd/system/getty@tty1.service"
}

if [ "${1:-}" = __customize ]; then
  shift
  customize "$@"
  exit 0
fi

# ---------------------------------------------------------------------------
FORCE=
PRUNE=
PKG_LIST=()
while [ $# -gt 0 ]; do
  case "$1" in
    --force) FORCE=1 ;;
    --prune) PRUNE=1 ;;
    --packages-file)
      [ -r "${2:-}" ] || die "--packages-file needs a readable file"
      while read -r line; do
        line=${line%%#*}
        for w in $line; do PKG_LIST+=("$w"); done
      done <"$2"
      shift
      ;;
    -h | --help) sed -n '2,20s/^# \{0,1\}//p' "$SELF"; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) PKG_LIST+=("$1") ;;
  esac
  shift
done
# shellcheck disable=SC2206 # split the default list on spaces
[ ${#PKG_LIST[@]} -gt 0 ] || PKG_LIST=($DEFAULT_PKGS)
for p in "${PKG_LIST[@]}"; do
  [[ "$p" =~ ^[a-z0-9][a-z0-9+.-]+$ ]] || die "not a Debian package name: '$p'"
done
PKGS=$(printf '%s\n' "${PKG_LIST[@]}" | sort -u | tr '\n' ' ')
PKGS=${PKGS% }

[ "$(id -u)" = 0 ] || die "must run as root (mmdebstrap root mode, bind mounts)"
for c in mmdebstrap apt-ftparchive ssh-keygen flock; do
  command -v "$c" >/dev/null || die "$c missing: run test/testhost/testhost.sh deps"
done

# Debian mirrors: the same ones this machine's apt uses (deb822 or one-line sources)
mirrors() {
  grep -hoE '^[[:space:]]*(URIs:|deb)[[:space:]]+(\[[^]]*\][[:space:]]+)?[^ ]+' \
    /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
    awk '{print $NF}' | grep -E '/debian(-security)?/?$' || true
}
MIRROR=$(mirrors | grep -v security | head -1)
SECURITY=$(mirrors | grep security | head -1)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY=${SECURITY:-http://deb.debian.org/debian-security}

HASH=$( {
  cat "$SELF"
  printf '%s\n' "$BASE_PKGS" "$PKGS" "$MIRROR" "$SECURITY" "$SUITE"
} | sha256sum | cut -c1-16)
IMG=$CACHE/images/$HASH

mkdir -p "$CACHE/images"
chmod 755 "$CACHE"
exec 9>"$CACHE/.lock"
flock 9 # one builder at a time; a second caller waits, then finds the cache

if [ ! -s "$CACHE/id_ed25519" ]; then
  rm -f "$CACHE/id_ed25519" "$CACHE/id_ed25519.pub"
  ssh-keygen -q -t ed25519 -N '' -C mailhost-testhost -f "$CACHE/id_ed25519"
  log "new SSH key pair $CACHE/id_ed25519"
fi
chmod 600 "$CACHE/id_ed25519"

if [ -n "$FORCE" ] || [ ! -f "$IMG/.complete" ]; then
  t0=$(date +%s)
  log "building image $HASH for: $PKGS"
  TMP=$CACHE/images/.tmp-$HASH
  # a killed earlier build may have left mounts inside the tmp tree
  { grep -o " $TMP/[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
  rm -rf --one-file-system "$TMP"
  mkdir -p "$TMP"
  export REPO_OUT=$TMP/repo PKGS PUBKEY
  PUBKEY=$(cat "$CACHE/id_ed25519.pub")
  mmdebstrap --mode=root --format=directory --variant=minbase \
    --include="$BASE_PKGS" \
    --aptopt='APT::Install-Recommends "false"' \
    --skip=cleanup/apt/lists \
    --customize-hook="\"$SELF\" __customize \"\$1\"" \
    "$SUITE" "$TMP/rootfs" \
    "deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" "deb $SECURITY $SUITE-security main" >&2
  printf '%s\n' "${PKG_LIST[@]}" | sort -u >"$TMP/packages.txt"
  if [ -d "$IMG" ]; then
    # never delete an image under a running host's overlay: park it instead
    mv "$IMG" "$CACHE/images/.old-$HASH-$(date +%s)"
  fi
  mv "$TMP" "$IMG"
  touch "$IMG/.complete"
  log "built $IMG in $(($(date +%s) - t0))s ($(du -sh "$IMG" | cut -f1))"
else
  log "cache hit: $IMG"
fi
ln -sfn "images/$HASH" "$CACHE/.current.new"
mv -T "$CACHE/.current.new" "$CACHE/current"
if [ -n "$PRUNE" ]; then
  for d in "$CACHE"/images/* "$CACHE"/images/.old-*; do
    if [ ! -d "$d" ] || [ "$d" = "$IMG" ]; then continue; fi
    if grep -q "lowerdir=$d/rootfs" /proc/mounts ||
      grep -qsx "$d" "${MAILHOST_TESTHOST_RUN:-/run/mailhost-testhost}"/*/image; then
      log "prune: keeping $d (a test host runs on it)"
      continue
    fi
    rm -rf --one-file-system "$d"
    log "prune: removed $d"
  done
fi
echo "$IMG"
