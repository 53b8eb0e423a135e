/** What the stack outputs tell people: records for the registrar, client settings. */
import { DKIM_SELECTOR } from "./dkim";
import { managedRecords, ZoneArgs } from "./dns";

export interface RegistrarRecords {
    /** Delegate the domain to this server: set these NS records at the registrar... */
    delegation: { name: string; type: "NS"; value: string }[];
    /** ...and this glue record, since the name server lives inside the domain. */
    glue: { name: string; type: "A"; value: string }[];
    /** Or, if the domain's DNS stays with another provider, publish these records there. */
    records: { name: string; type: string; value: string }[];
}

export function renderRegistrarRecords(args: ZoneArgs, dkimRecord?: string): RegistrarRecords {
    const fqdn = (name: string) => (name === "@" ? `${args.domain}.` : `${name}.${args.domain}.`);
    return {
        delegation: [{ name: `${args.domain}.`, type: "NS", value: `ns.${args.domain}.` }],
        glue: [{ name: `ns.${args.domain}.`, type: "A", value: args.address }],
        records: managedRecords(args)
            .filter((r) => r.type !== "NS" && r.name !== "ns")
            .concat(dkimRecord ? [{ name: `${DKIM_SELECTOR}._domainkey`, type: "TXT", value: dkimRecord }] : [])
            .concat(args.extraRecords)
            .map((r) => ({ name: fqdn(r.name), type: r.type, value: r.value })),
    };
}

export interface ClientSettings {
    incoming: { protocol: string; server: string; port: number; security: string }[];
    outgoing: { protocol: string; server: string; port: number; security: string }[];
    username: string;
    authentication: string;
}

/** What to type into Thunderbird or Outlook. */
export function renderClientSettings(hostname: string, allowPlaintextAuth: boolean): ClientSettings {
    const incoming = [
        { protocol: "IMAP", server: hostname, port: 993, security: "SSL/TLS" },
        { protocol: "IMAP", server: hostname, port: 143, security: "STARTTLS" },
        { protocol: "POP3", server: hostname, port: 995, security: "SSL/TLS" },
        { protocol: "POP3", server: hostname, port: 110, security: "STARTTLS" },
    ];
    return {
        incoming,
        outgoing: [
            { protocol: "SMTP", server: hostname, port: 587, security: "STARTTLS" },
            { protocol: "SMTP", server: hostname, port: 465, security: "SSL/TLS" },
        ],
        username: "the user's name without the domain (e.g. liuchuan)",
        authentication: allowPlaintextAuth ? "normal password (also accepted without TLS: lab mode)" : "normal password, over TLS only",
    };
}
