/**
 * ACME (`mailhost:acme`): certbot obtains the certificate for the host name from an ACME
 * CA (Let's Encrypt by default) with the HTTP-01 challenge on port 80 (certbot's own
 * standalone server; nothing else listens there), and its timer renews it. Postfix and
 * Dovecot keep reading the same two files (the TLS component's paths): the step installs
 * the certificate there, and so does the deploy hook after each renewal, reloading both
 * daemons only when the files changed. The TLS component's self-signed certificate
 * serves until the first issuance succeeds.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { AcmeConfig } from "./config";
import { Platform } from "./platform";
import { HostConnection, hostStep, reportedValue } from "./remote";
import { heredoc, shq, stepScript } from "./shell";
import { FINGERPRINT_PREFIX } from "./tls";

export interface AcmeArgs {
    connection: HostConnection;
    platform: Platform;
    /** The name the certificate is for (it must resolve to the host in public DNS). */
    hostname: string;
    /** The address the name must resolve to (for the error message). */
    address: pulumi.Input<string>;
    acme: AcmeConfig;
    /** Where Postfix and Dovecot read the certificate and key. */
    certFile: string;
    keyFile: string;
    /** DNS, firewall (port 80), Postfix and Dovecot: what must be in place first. */
    dependsOn: pulumi.Input<pulumi.Resource>[];
}

/** certbot's name for our certificate: /etc/letsencrypt/live/mailhost. */
export const CERT_NAME = "mailhost";
const LIVE_DIR = `/etc/letsencrypt/live/${CERT_NAME}`;
/** certbot runs every executable here after each renewal (not after `certonly`). */
export const DEPLOY_HOOK = "/etc/letsencrypt/renewal-hooks/deploy/mailhost";
/** The CA bundle certbot trusts for a private ACME server. */
export const CA_BUNDLE_FILE = "/etc/mailhost/acme-ca.pem";

/**
 * Lines that copy the lineage's key and chain (in `$lineage`) to the daemons' paths and
 * reload Postfix and Dovecot when they changed: shared by the step and the deploy hook.
 */
function installLines(args: Pick<AcmeArgs, "certFile" | "keyFile">): string[] {
    return [
        `changed=0`,
        `mh_put ${shq(args.keyFile)} 0600 root:root <"$lineage/privkey.pem" && changed=1`,
        `mh_put ${shq(args.certFile)} 0644 root:root <"$lineage/fullchain.pem" && changed=1`,
        `if [ "$changed" = 1 ]; then`,
        `  for unit in postfix dovecot; do`,
        `    if systemctl is-active --quiet "$unit"; then systemctl reload "$unit"; mh_log "reload $unit"; fi`,
        `  done`,
        `fi`,
    ];
}

/** The deploy hook certbot runs after a renewal (`$RENEWED_LINEAGE` is the live dir). */
export function renderDeployHook(args: Pick<AcmeArgs, "certFile" | "keyFile">): string {
    return stepScript("ACME deploy hook: install the renewed certificate", [`lineage=\${RENEWED_LINEAGE:-${LIVE_DIR}}`, ...installLines(args)]);
}

/** The certbot command line: values are validated by the config schema and quoted here. */
export function certbotCommand(acme: AcmeConfig, hostname: string): string {
    return [
        "certbot certonly --standalone --preferred-challenges http --non-interactive --agree-tos --no-eff-email",
        `--email ${shq(acme.email)} --server ${shq(acme.server)} --cert-name ${CERT_NAME} --domain ${shq(hostname)}`,
        // RSA for the oldest mail clients; keep a valid certificate instead of asking for another.
        "--key-type rsa --rsa-key-size 3072 --keep-until-expiring",
    ].join(" ");
}

/** The step script: hook and CA bundle in place, renewal timer on, certificate obtained and installed. */
export function renderAcmeScript(platform: Platform, args: Pick<AcmeArgs, "hostname" | "acme" | "certFile" | "keyFile">, address: string): string {
    const { renewTimer, renewService } = platform.acme;
    const dropIn = `/etc/systemd/system/${renewService}.d/mailhost.conf`;
    const caLines = args.acme.caBundle
        ? [
              heredoc(`mh_put ${CA_BUNDLE_FILE} 0644 root:root`, args.acme.caBundle, "|| true"),
              `# certbot (python-requests) trusts this bundle instead of the system's: for a private CA.`,
              `export REQUESTS_CA_BUNDLE=${CA_BUNDLE_FILE}`,
              heredoc(`mh_put ${dropIn} 0644 root:root`, `[Service]\nEnvironment=REQUESTS_CA_BUNDLE=${CA_BUNDLE_FILE}\n`, "&& systemctl daemon-reload"),
          ]
        : [`if [ -f ${dropIn} ]; then rm -f ${dropIn} ${CA_BUNDLE_FILE}; systemctl daemon-reload; fi`];
    return stepScript(`ACME certificate for ${args.hostname}`, [
        `mkdir -p /etc/mailhost "$(dirname ${DEPLOY_HOOK})"`,
        heredoc(`mh_put ${DEPLOY_HOOK} 0755 root:root`, renderDeployHook(args), "|| true"),
        ...caLines,
        `mh_service ${renewTimer} 0`,
        `if ! ${certbotCommand(args.acme, args.hostname)} >"$mh_stage/certbot.log" 2>&1; then`,
        `  cat "$mh_stage/certbot.log" >&2`,
        `  mh_log ${shq(
            `the ACME CA could not validate ${args.hostname}: it must resolve to ${address} in public DNS (publish the dnsRecords output) ` +
                "and port 80 must be reachable from the internet; then run pulumi up again. Until then the self-signed certificate stays in use.",
        )}`,
        `  exit 1`,
        `fi`,
        `lineage=${LIVE_DIR}`,
        ...installLines(args),
        `printf '${FINGERPRINT_PREFIX}%s\\n' "$(openssl x509 -in ${shq(args.certFile)} -noout -fingerprint -sha256 | cut -d= -f2)"`,
    ]);
}

/** The ACME-issued certificate, installed where Postfix and Dovecot read it. */
export class Acme extends pulumi.ComponentResource {
    /** The step after which the CA's certificate is served. */
    public readonly ready: command.remote.Command;
    /** SHA-256 fingerprint of the certificate installed by this apply (renewals change it). */
    public readonly fingerprint: pulumi.Output<string>;

    constructor(name: string, args: AcmeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailhost:acme:Acme", name, {}, opts);
        this.ready = hostStep(
            `${name}-certificate`,
            { connection: args.connection, script: pulumi.output(args.address).apply((a) => renderAcmeScript(args.platform, args, a)) },
            { parent: this, dependsOn: args.dependsOn },
        );
        this.fingerprint = reportedValue(this.ready, FINGERPRINT_PREFIX);
        this.registerOutputs({ fingerprint: this.fingerprint });
    }
}
