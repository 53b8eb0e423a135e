/** Reading rendered config files back in tests. */

/**
 * The top-level `key = value` lines of a Postfix main.cf or Dovecot conf (lines
 * inside `{ }` sections and comments are skipped), in order, repeated keys included.
 */
export function settingsOf(text: string): [string, string][] {
    const out: [string, string][] = [];
    let depth = 0;
    for (const line of text.split("\n")) {
        const l = line.trim();
        if (l.startsWith("#") || l === "") continue;
        if (l.endsWith("{")) depth++;
        if (depth === 0) {
            const m = /^([A-Za-z0-9_]+) =(?: (.*))?$/.exec(l);
            if (m) out.push([m[1], m[2] ?? ""]);
        }
        if (l === "}") depth--;
    }
    return out;
}

/** `settingsOf` as a map; throws when a key is repeated (validators warn about that). */
export function settingsMap(text: string): Map<string, string> {
    const map = new Map<string, string>();
    for (const [k, v] of settingsOf(text)) {
        if (map.has(k)) throw new Error(`${k} is set twice`);
        map.set(k, v);
    }
    return map;
}

/** A comma- or space-separated Postfix list. */
export function postfixList(value: string | undefined): string[] {
    return (value ?? "").split(/[\s,]+/).filter(Boolean);
}
