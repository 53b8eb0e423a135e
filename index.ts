/**
 * mailhost: a complete mail system (BIND, Postfix, Dovecot, users, aliases,
 * firewalld) on a RHEL 8 host, created on AWS or reached over SSH.
 * The stack config is documented in README.md.
 */
import { PORT25_NOTICE } from "./components/aws";
import { loadConfig } from "./components/config";
import { managedStack } from "./components/stack";

const config = loadConfig();
const stack = managedStack(config);

export const publicIp = stack.publicIp;
export const hostname = config.hostname;
export const dnsRecords = stack.dnsRecords;
export const clientSettings = stack.clientSettings;
export const sshCommand = stack.sshCommand;
export const tlsFingerprint = stack.tlsFingerprint;
export const port25Notice = config.target === "aws" ? PORT25_NOTICE : undefined;
export const warnings = stack.warnings;
