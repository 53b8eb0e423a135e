/**
 * Building the bash scripts that run on the host.
 *
 * Every script is sent on the command's stdin (never in the command string), starts
 * with `PRELUDE`, and embeds file contents as quoted here-documents, so no value from
 * config is ever interpreted by a shell. The few values that must appear as words
 * (user names in `userdel`, paths) go through `shq`, the one quoting helper.
 */

/** Quotes `value` as one single-quoted bash word. */
export function shq(value: string): string {
    if (value.includes("\0")) {
        throw new Error("shq: a NUL byte cannot be passed to a shell");
    }
    return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * `content` as a quoted here-document fed to `command` (no expansion inside).
 * `then` continues the command's line (e.g. `&& changed=1`). The terminator is
 * MAILHOST_EOF, or MAILHOST_EOF_<n> if the content holds that line. `content`
 * always ends with a newline in the file.
 */
export function heredoc(command: string, content: string, then = ""): string {
    const body = content.endsWith("\n") ? content : `${content}\n`;
    const lines = new Set(body.split("\n"));
    let tag = "MAILHOST_EOF";
    for (let n = 1; lines.has(tag); n++) tag = `MAILHOST_EOF_${n}`;
    return `${command} <<'${tag}'${then ? ` ${then}` : ""}\n${body}${tag}`;
}

/**
 * Functions every step script can use. Kept small: each one is exercised by the
 * end-to-end tests on a real host.
 */
export const PRELUDE = `set -euo pipefail
umask 022
export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mkdir -p /var/lib/mailhost
chmod 0700 /var/lib/mailhost
# One step at a time on this host: Pulumi runs independent resources in parallel.
exec 9>/var/lib/mailhost/lock
flock 9
mh_stage=$(mktemp -d /var/lib/mailhost/stage.XXXXXX)
trap 'rm -rf "$mh_stage"' EXIT

mh_log() { printf 'mailhost: %s\\n' "$*" >&2; }

# Restore SELinux file contexts of what we wrote (no-op without SELinux).
mh_restorecon() {
  if command -v selinuxenabled >/dev/null 2>&1 && selinuxenabled; then restorecon -F "$@"; fi
}

# mh_put DEST MODE OWNER:GROUP < content
# Installs stdin as DEST atomically unless DEST already has exactly that content,
# mode and owner. Succeeds (0) when DEST changed, fails (1) when it was already so.
mh_put() {
  local dest=$1 mode=$2 owner=$3 tmp
  tmp=$(mktemp "$mh_stage/put.XXXXXX")
  cat >"$tmp"
  chmod "$mode" "$tmp"
  chown "$owner" "$tmp"
  if [ -f "$dest" ] && cmp -s "$tmp" "$dest" &&
     [ "$(stat -c '%a %U:%G' "$dest")" = "$(stat -c '%a %U:%G' "$tmp")" ]; then
    rm -f "$tmp"
    return 1
  fi
  mkdir -p "$(dirname "$dest")"
  cp -p "$tmp" "$dest.mailhost-new"
  mv -f "$dest.mailhost-new" "$dest"
  rm -f "$tmp"
  mh_restorecon "$dest"
  mh_log "wrote $dest"
  return 0
}

# mh_validate WHAT COMMAND...
# Runs a validator on staged files; a failure, or a warning on stderr, aborts the step
# before anything live is touched, with the validator's own words.
mh_validate() {
  local what=$1 rc=0
  shift
  "$@" >"$mh_stage/validate.out" 2>"$mh_stage/validate.err" || rc=$?
  if [ "$rc" -ne 0 ] || grep -qiE 'warning|error|fatal' "$mh_stage/validate.err"; then
    mh_log "the new $what configuration was rejected by '$1'; the running configuration is unchanged:"
    cat "$mh_stage/validate.out" "$mh_stage/validate.err" >&2
    exit 1
  fi
}

# mh_service UNIT CHANGED [reload|restart]
# Enables UNIT, starts it if stopped, and reloads (or restarts) it only when CHANGED=1.
mh_service() {
  local unit=$1 changed=$2 how=\${3:-reload}
  systemctl is-enabled --quiet "$unit" 2>/dev/null || systemctl enable --quiet "$unit"
  if ! systemctl is-active --quiet "$unit"; then
    systemctl start "$unit"
    mh_log "started $unit"
  elif [ "$changed" = 1 ]; then
    systemctl "$how" "$unit" || systemctl restart "$unit"
    mh_log "$how $unit"
  fi
}
`;

/** A complete step script: the prelude, then `body` (lines of bash). */
export function stepScript(title: string, body: string[]): string {
    return `#!/bin/bash\n# mailhost: ${title}\n${PRELUDE}\n${body.join("\n")}\n`;
}
