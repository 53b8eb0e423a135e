/**
 * TLS: the server certificate Postfix and Dovecot present. Either the user's own
 * (`mailhost:tls`), or a self-signed one generated once on the host and kept across
 * re-applies (its SHA-256 fingerprint is an output, so clients can pin it).
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { Platform } from "./platform";
import { HostConnection, hostStep, reportedValue } from "./remote";
import { heredoc, shq, stepScript } from "./shell";

export interface TlsArgs {
    connection: HostConnection;
    platform: Platform;
    /** The name the certificate is for. */
    hostname: string;
    /** A user-provided certificate (PEM, full chain) and its secret key. */
    provided?: { certificate: string; privateKey: pulumi.Output<string> };
    /** The certificate will come from ACME: the self-signed one only bridges until then. */
    acme?: boolean;
    dependsOn: pulumi.Input<pulumi.Resource>[];
}

/** Lines printed by the script that carry the fingerprint (parsed into an output). */
export const FINGERPRINT_PREFIX = "tls-fingerprint-sha256=";

/**
 * Generates a self-signed certificate unless one for `hostname` is there. With
 * `bootstrap` (ACME), any certificate for the name is kept, however close to expiry:
 * certbot renews it; otherwise one that expires within 30 days is replaced.
 */
export function renderSelfSignedScript(platform: Platform, hostname: string, bootstrap = false): string {
    const { certFile, keyFile } = platform.tls;
    return stepScript(`TLS certificate for ${hostname}`, [
        `cert=${shq(certFile)} key=${shq(keyFile)} name=${shq(hostname)}`,
        bootstrap
            ? `# Keep any certificate for this name: the ACME step replaces this one, certbot renews it.`
            : `# Keep the certificate while it is for this name and valid for 30 more days.`,
        `if ! { [ -s "$key" ] && ${bootstrap ? "" : `openssl x509 -in "$cert" -noout -checkend 2592000 >/dev/null 2>&1 &&\n       `}openssl x509 -in "$cert" -noout -checkhost "$name" 2>/dev/null | grep -q ' does match'; }; then`,
        `  mkdir -p "$(dirname "$cert")" "$(dirname "$key")"`,
        `  openssl req -x509 -newkey rsa:3072 -sha256 -days 3650 -nodes -subj "/CN=$name" \\`,
        `    -addext "subjectAltName=DNS:$name" -keyout "$mh_stage/key" -out "$mh_stage/cert" 2>/dev/null`,
        `  mh_put "$key" 0600 root:root <"$mh_stage/key" || true`,
        `  mh_put "$cert" 0644 root:root <"$mh_stage/cert" || true`,
        `fi`,
        `printf '${FINGERPRINT_PREFIX}%s\\n' "$(openssl x509 -in "$cert" -noout -fingerprint -sha256 | cut -d= -f2)"`,
    ]);
}

/** Installs a user-provided certificate and key (the key is a secret: the script is too). */
export function renderProvidedScript(platform: Platform, certificate: string, privateKey: string): string {
    const { certFile, keyFile } = platform.tls;
    return stepScript("TLS certificate (provided)", [
        heredoc(`cat >"$mh_stage/key"`, privateKey),
        heredoc(`cat >"$mh_stage/cert"`, certificate),
        `# The key must belong to the certificate, or Postfix and Dovecot would fail on reload.`,
        `# shellcheck disable=SC2016 # expanded by the inner bash`,
        `mh_validate "TLS key pair" bash -c '[ "$(openssl x509 -in "$1" -noout -pubkey)" = "$(openssl pkey -in "$2" -pubout)" ]' _ "$mh_stage/cert" "$mh_stage/key"`,
        `mh_put ${shq(keyFile)} 0600 root:root <"$mh_stage/key" || true`,
        `mh_put ${shq(certFile)} 0644 root:root <"$mh_stage/cert" || true`,
        `printf '${FINGERPRINT_PREFIX}%s\\n' "$(openssl x509 -in ${shq(certFile)} -noout -fingerprint -sha256 | cut -d= -f2)"`,
    ]);
}

/** The certificate and key on the host. */
export class Tls extends pulumi.ComponentResource {
    /** The step that installs the certificate: Postfix and Dovecot depend on it. */
    public readonly ready: command.remote.Command;
    /** SHA-256 fingerprint of the certificate, e.g. AB:CD:... */
    public readonly fingerprint: pulumi.Output<string>;
    /** Paths of the certificate and key on the host. */
    public readonly certFile: string;
    public readonly keyFile: string;

    constructor(name: string, args: TlsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailhost:tls:Tls", name, {}, opts);
        this.certFile = args.platform.tls.certFile;
        this.keyFile = args.platform.tls.keyFile;
        const provided = args.provided;
        this.ready = hostStep(
            `${name}-certificate`,
            provided
                ? {
                      connection: args.connection,
                      script: provided.privateKey.apply((k) => renderProvidedScript(args.platform, provided.certificate, k)),
                      secret: true,
                  }
                : { connection: args.connection, script: renderSelfSignedScript(args.platform, args.hostname, args.acme) },
            { parent: this, dependsOn: args.dependsOn },
        );
        this.fingerprint = reportedValue(this.ready, FINGERPRINT_PREFIX);
        this.registerOutputs({ fingerprint: this.fingerprint });
    }
}
