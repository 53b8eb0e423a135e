/**
 * Every difference between the operating systems mailhost supports, in one place.
 *
 * Components never test the OS name: they read the field they need from the
 * `Platform` they are given. Adding an OS means adding one entry here.
 */

/** The operating systems a host may run. AWS hosts are always `rhel8`. */
export type OsName = "rhel8" | "debian12";

export const OS_NAMES: readonly OsName[] = ["rhel8", "debian12"];

export interface Platform {
    /** The name used in stack config (`mailhost:os`). */
    name: OsName;
    /** Human readable name, for messages. */
    label: string;
    /** Shell lines that install `packages` non-interactively (no prompts, idempotent). */
    installCommand(packages: readonly string[]): string;
    /** Shell test that succeeds when every package of the list is installed. */
    installedTest(packages: readonly string[]): string;
    /** Packages the mail system needs, by concern. */
    packages: {
        dns: string[];
        postfix: string[];
        dovecot: string[];
        firewall: string[];
        mailClient: string[];
        /** OpenDKIM and its key generator. */
        dkim: string[];
        tools: string[];
        /** The ACME client (only with `mailhost:acme`). */
        acme: string[];
        /** fail2ban with its firewalld actions and journal reader (unless `mailhost:fail2ban` is false). */
        fail2ban: string[];
    };
    acme: {
        /** The package's timer that runs `certbot renew` (enabled by us: not every distribution does). */
        renewTimer: string;
        /** The service that timer starts (its environment gets the ACME CA bundle). */
        renewService: string;
    };
    /** The shell of mail-only accounts (no interactive login). */
    nologinShell: string;
    /** Lowest uid Dovecot accepts; also the first uid `useradd` hands out. */
    firstUid: number;
    /**
     * System aliases that the distribution's /etc/aliases lacks but the chapter relies on
     * (RHEL ships `bin: root` and friends; Debian only `postmaster: root`).
     */
    missingSystemAliases: Record<string, string>;
    /** Run `restorecon` on files we write (SELinux hosts). */
    selinux: boolean;
    dns: {
        /** Package-provided unit that runs named. */
        service: string;
        /** The unit of the distribution that must NOT run at the same time (bind-chroot). */
        conflictingService?: string;
        /** named.conf we own entirely. */
        namedConf: string;
        /** Directory that holds zone files (named's `directory`). */
        zoneDir: string;
        /** Directory for named's runtime data (dumps, statistics). */
        dataDir: string;
        /** Group named runs as: zone files are readable by it. */
        group: string;
        /** Extra options lines specific to the BIND version. */
        extraOptions: string[];
    };
    postfix: {
        /** Postfix version, for the syntax of settings that changed between versions. */
        version: string;
        /** `compatibility_level` the distribution's main.cf sets. */
        compatibilityLevel: string;
        /** Parameters the distribution sets in main.cf (paths, defaults) kept verbatim. */
        distributionSettings: [string, string][];
        /** How Postfix finds the CAs that verify remote servers' TLS (smtp_tls_CAfile or _CApath). */
        caSetting: [string, string];
        /** The unit whose journal holds Postfix's log (what fail2ban reads). */
        logUnit: string;
    };
    dovecot: {
        /** Dovecot's main config file (we own it entirely). */
        conf: string;
    };
    tls: {
        /** Where the server certificate (PEM, full chain) is stored. */
        certFile: string;
        /** Where its private key is stored (mode 0600 root). */
        keyFile: string;
    };
    /** The mail spool where root's mbox lives (read by mailx). */
    mailSpool: string;
    /**
     * OpenDKIM's milter socket. A UNIX socket, not TCP: over loopback TCP every milter
     * round trip waits on delayed ACKs (~90 ms a message; measured 11 vs 172 messages/s
     * in one SMTP session). Postfix reaches it as the postfix user, a member of the
     * opendkim group.
     */
    dkimSocket: {
        /** Directory that holds the socket (opendkim:opendkim 0750). */
        dir: string;
        /** OpenDKIM's `Socket` value. */
        opendkim: string;
        /** The same socket as Postfix's `smtpd_milters` names it. */
        postfix: string;
    };
}

/** EPEL's release package for EL8 (brings the repository that has OpenDKIM). */
export const EPEL_RELEASE_RPM = "https://dl.fedoraproject.org/pub/epel/epel-release-latest-8.noarch.rpm";

const rhel8: Platform = {
    name: "rhel8",
    label: "Red Hat Enterprise Linux 8",
    installCommand: (pkgs) =>
        [
            // OpenDKIM is packaged in EPEL, not in RHEL itself.
            `rpm -q epel-release >/dev/null 2>&1 || dnf install -y ${EPEL_RELEASE_RPM}`,
            `dnf install -y --setopt=install_weak_deps=False ${pkgs.join(" ")}`,
        ].join("\n"),
    installedTest: (pkgs) => `rpm -q ${pkgs.join(" ")} >/dev/null 2>&1`,
    packages: {
        dns: ["bind-chroot", "bind-utils"],
        postfix: ["postfix"],
        dovecot: ["dovecot"],
        firewall: ["firewalld"],
        mailClient: ["mailx"],
        dkim: ["opendkim", "opendkim-tools"],
        tools: ["openssl", "policycoreutils", "util-linux"],
        // EPEL, like OpenDKIM.
        acme: ["certbot"],
        // EPEL; fail2ban-firewalld makes firewalld its ban action.
        fail2ban: ["fail2ban-server", "fail2ban-firewalld", "python3-systemd"],
    },
    // EPEL's certbot ships its renewal timer disabled.
    acme: { renewTimer: "certbot-renew.timer", renewService: "certbot-renew.service" },
    nologinShell: "/sbin/nologin",
    firstUid: 1000,
    missingSystemAliases: {},
    selinux: true,
    dns: {
        service: "named-chroot",
        conflictingService: "named",
        namedConf: "/etc/named.conf",
        zoneDir: "/var/named",
        dataDir: "/var/named/data",
        group: "named",
        // As RHEL's stock named.conf: named cannot write to /var/named itself.
        extraOptions: ['managed-keys-directory "/var/named/dynamic";', 'pid-file "/run/named/named.pid";', 'session-keyfile "/run/named/session.key";'],
    },
    postfix: {
        version: "3.5",
        compatibilityLevel: "2",
        distributionSettings: [
            ["queue_directory", "/var/spool/postfix"],
            ["command_directory", "/usr/sbin"],
            ["daemon_directory", "/usr/libexec/postfix"],
            ["data_directory", "/var/lib/postfix"],
            ["mail_owner", "postfix"],
            ["setgid_group", "postdrop"],
            ["sendmail_path", "/usr/sbin/sendmail.postfix"],
            ["newaliases_path", "/usr/bin/newaliases.postfix"],
            ["mailq_path", "/usr/bin/mailq.postfix"],
            ["html_directory", "no"],
            ["manpage_directory", "/usr/share/man"],
            ["sample_directory", "/usr/share/doc/postfix/samples"],
            ["readme_directory", "/usr/share/doc/postfix/README_FILES"],
            ["meta_directory", "/etc/postfix"],
            ["shlib_directory", "/usr/lib64/postfix"],
        ],
        caSetting: ["smtp_tls_CAfile", "/etc/pki/tls/certs/ca-bundle.crt"],
        logUnit: "postfix.service",
    },
    dovecot: { conf: "/etc/dovecot/dovecot.conf" },
    tls: {
        certFile: "/etc/pki/tls/certs/mailhost.pem",
        keyFile: "/etc/pki/tls/private/mailhost.key",
    },
    mailSpool: "/var/spool/mail",
    // EPEL's default, labelled for OpenDKIM by SELinux policy (recreated by its tmpfiles at
    // boot); Postfix is not chrooted on RHEL, so it reaches it by its full path.
    dkimSocket: { dir: "/run/opendkim", opendkim: "local:/run/opendkim/opendkim.sock", postfix: "unix:/run/opendkim/opendkim.sock" },
};

const debian12: Platform = {
    name: "debian12",
    label: "Debian 12",
    installCommand: (pkgs) =>
        [
            "export DEBIAN_FRONTEND=noninteractive",
            // Keep daemons from starting with distribution defaults (firewalld would lock
            // out a non-standard SSH port); each step starts its daemon once configured.
            "printf '#!/bin/sh\\nexit 101\\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d",
            "trap 'rm -f /usr/sbin/policy-rc.d; rm -rf \"$mh_stage\"' EXIT",
            // Postfix's question (what kind of site) gets debconf's default, "Internet Site":
            // a main.cf the Postfix step replaces. Not "No configuration": without a main.cf
            // the other packages' scripts ran 6 s longer (bench: 25.6 -> 19.4 s, this step).
            "apt-get update -qq || true",
            `apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confold ${pkgs.join(" ")}`,
            "rm -f /usr/sbin/policy-rc.d",
            // The packages' D-Bus policies (polkit's, firewalld's) were installed while
            // policy-rc.d kept dbus from reloading: load them now.
            "systemctl reload dbus 2>/dev/null || true",
        ].join("\n"),
    installedTest: (pkgs) =>
        `[ "$(dpkg-query -W -f='\${db:Status-Status}\\n' ${pkgs.join(" ")} 2>/dev/null | grep -cx installed)" = ${pkgs.length} ]`,
    packages: {
        dns: ["bind9", "bind9-utils", "bind9-dnsutils"],
        postfix: ["postfix"],
        dovecot: ["dovecot-core", "dovecot-imapd", "dovecot-pop3d", "dovecot-lmtpd"],
        firewall: ["firewalld"],
        mailClient: ["bsd-mailx"],
        dkim: ["opendkim", "opendkim-tools"],
        tools: ["openssl", "util-linux"],
        acme: ["certbot"],
        fail2ban: ["fail2ban", "python3-systemd"],
    },
    acme: { renewTimer: "certbot.timer", renewService: "certbot.service" },
    nologinShell: "/usr/sbin/nologin",
    firstUid: 1000,
    missingSystemAliases: {
        bin: "root",
        daemon: "root",
        adm: "root",
        lp: "root",
        sync: "root",
        shutdown: "root",
        halt: "root",
        mail: "root",
        news: "root",
        uucp: "root",
        operator: "root",
        games: "root",
        nobody: "root",
        www: "root",
        // RFC 2142 role addresses (RHEL's file has them; the zone's SOA names hostmaster).
        abuse: "root",
        hostmaster: "root",
        webmaster: "root",
        noc: "root",
        security: "root",
        "www-data": "root",
        backup: "root",
        list: "root",
        proxy: "root",
        sys: "root",
    },
    selinux: false,
    dns: {
        service: "named",
        namedConf: "/etc/bind/named.conf",
        // AppArmor lets named write only below /var/cache/bind and /var/lib/bind.
        zoneDir: "/var/lib/bind",
        dataDir: "/var/cache/bind",
        group: "bind",
        extraOptions: [],
    },
    postfix: {
        version: "3.7",
        compatibilityLevel: "3.6",
        distributionSettings: [["readme_directory", "no"]],
        caSetting: ["smtp_tls_CApath", "/etc/ssl/certs"],
        // Debian's postfix.service only starts the instance unit postfix@-, which logs.
        logUnit: "postfix@-.service",
    },
    dovecot: { conf: "/etc/dovecot/dovecot.conf" },
    tls: {
        certFile: "/etc/ssl/certs/mailhost.pem",
        keyFile: "/etc/ssl/private/mailhost.key",
    },
    mailSpool: "/var/mail",
    // Debian runs smtpd and cleanup chrooted in the queue directory: the socket lives
    // there, and Postfix names it relative to it (its daemons run in that directory).
    dkimSocket: {
        dir: "/var/spool/postfix/opendkim",
        opendkim: "local:/var/spool/postfix/opendkim/opendkim.sock",
        postfix: "unix:opendkim/opendkim.sock",
    },
};

export const PLATFORMS: Record<OsName, Platform> = { rhel8, debian12 };

export function platformFor(os: OsName): Platform {
    return PLATFORMS[os];
}

/** Every package the mail system installs on `platform`, in a stable order (certbot with `acme`; fail2ban unless opted out). */
export function allPackages(platform: Platform, features: { acme?: boolean; fail2ban?: boolean } = {}): string[] {
    const p = platform.packages;
    const { acme = false, fail2ban = true } = features;
    return [...p.tools, ...p.firewall, ...p.dns, ...p.postfix, ...p.dovecot, ...p.dkim, ...p.mailClient, ...(fail2ban ? p.fail2ban : []), ...(acme ? p.acme : [])];
}
