/** Ordered `key = value` settings, shared by the Postfix and Dovecot renderers. */

/**
 * `base` with `overrides` applied: an overridden key keeps its place, a new key is
 * appended. The result has each key once (validators warn about repeated keys).
 */
export function mergeSettings(base: [string, string][], overrides: [string, string][]): [string, string][] {
    const merged = new Map(base);
    for (const [k, v] of overrides) merged.set(k, v);
    return [...merged.entries()];
}

/** `key = value` lines. */
export function settingLines(settings: [string, string][]): string[] {
    return settings.map(([k, v]) => (v === "" ? `${k} =` : `${k} = ${v}`));
}
