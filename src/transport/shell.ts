// Text helpers for remote commands, free of any dependency so the transport and the stage
// engine share them: POSIX shell quoting and secret redaction.

/** Quotes `text` as one POSIX shell word. */
export function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Replaces every occurrence of every non-empty secret with `***`. */
export function redact(text: string, secrets: readonly string[]): string {
  return secrets.filter((secret) => secret !== '').reduce((result, secret) => result.split(secret).join('***'), text);
}
