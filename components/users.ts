/**
 * Mail users: one `MailUser` per entry of `mailhost:users`, each its own resource, so
 * adding, removing or changing one user touches only that user.
 *
 * A mail user is a system account without a login shell, whose mail Dovecot stores
 * in ~/Maildir. Its password is set only when it differs from the current one (so a
 * re-run changes no file), and travels only inside the secret stdin of the step.
 */
import * as pulumi from "@pulumi/pulumi";
import { Platform } from "./platform";
import { POSTFIX_MAPS } from "./postfix";
import { HostConnection, hostStep } from "./remote";
import { heredoc, shq, stepScript } from "./shell";

export interface MailUserArgs {
    connection: HostConnection;
    platform: Platform;
    /** Login name (validated: POSIX, not a system account). */
    userName: string;
    /** Secret password. */
    password: pulumi.Output<string>;
    /** The mail domain (the user may send as user@domain). */
    domain: string;
    /** Delete the home directory and mail when the user is removed. */
    purgeOnDelete: boolean;
    dependsOn: pulumi.Input<pulumi.Resource>[];
}

/** Shell lines that set `key` to `value` in a hash map (remove it when `value` is empty). */
export function mapLineScript(map: string, key: string, value: string): string[] {
    const add = value ? `printf '%s\\n' ${shq(`${key} ${value}`)}; ` : "";
    return [
        `{ awk -v k=${shq(key)} '$1 != k' ${map} 2>/dev/null || true; ${add}} | sort >"$mh_stage/map"`,
        `if mh_put ${map} 0644 root:root <"$mh_stage/map"; then postmap hash:${map}; fi`,
    ];
}

/** Creates the account, sets its password if it differs, registers its mailbox. */
export function renderMailUserScript(platform: Platform, name: string, password: string, domain: string): string {
    return stepScript(`mail user ${name}`, [
        `user=${shq(name)}`,
        `if ! id -u "$user" >/dev/null 2>&1; then`,
        `  useradd --create-home --shell ${platform.nologinShell} --comment 'mailhost mail user' "$user"`,
        `  mh_log "created user $user"`,
        `fi`,
        `[ "$(getent passwd "$user" | cut -d: -f7)" = ${platform.nologinShell} ] || usermod --shell ${platform.nologinShell} "$user"`,
        `# The password arrives here, in the step's secret stdin, and leaves only through pipes.`,
        heredoc(`IFS= read -r password`, password),
        `current=$(getent shadow "$user" | cut -d: -f2)`,
        `scheme='' salt=''`,
        `IFS='$' read -r _ scheme salt _ <<<"$current" || true`,
        `if [ "$scheme" != 6 ] || [ "$(printf '%s\\n' "$password" | openssl passwd -6 -salt "$salt" -stdin)" != "$current" ]; then`,
        `  hash=$(printf '%s\\n' "$password" | openssl passwd -6 -stdin)`,
        `  printf '%s:%s\\n' "$user" "$hash" | chpasswd -e`,
        `  mh_log "password of $user set"`,
        `fi`,
        `unset password current hash`,
        ...mapLineScript(POSTFIX_MAPS.mailboxes, name, "lmtp:unix:private/dovecot-lmtp"),
        ...mapLineScript(POSTFIX_MAPS.senders, `${name}@${domain}`, name),
    ]);
}

/** Removes the account (and, with purge, its home and mail) and its map lines. */
export function renderMailUserDeleteScript(name: string, domain: string, purge: boolean): string {
    return stepScript(`remove mail user ${name}`, [
        `user=${shq(name)}`,
        ...mapLineScript(POSTFIX_MAPS.mailboxes, name, ""),
        ...mapLineScript(POSTFIX_MAPS.senders, `${name}@${domain}`, ""),
        `if id -u "$user" >/dev/null 2>&1; then`,
        `  pkill -u "$user" || true`,
        purge ? `  userdel --remove "$user" 2>/dev/null || userdel "$user"` : `  userdel "$user"  # home and ~/Maildir are kept`,
        `  mh_log "removed user $user"`,
        `fi`,
    ]);
}

/** One mail user. */
export class MailUser extends pulumi.ComponentResource {
    constructor(name: string, args: MailUserArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailhost:users:MailUser", name, {}, opts);
        hostStep(
            `${name}-account`,
            {
                connection: args.connection,
                script: args.password.apply((p) => renderMailUserScript(args.platform, args.userName, p, args.domain)),
                deleteScript: renderMailUserDeleteScript(args.userName, args.domain, args.purgeOnDelete),
                secret: true,
            },
            { parent: this, dependsOn: args.dependsOn },
        );
        this.registerOutputs({});
    }
}
