// The lab's VMs fetch Debian packages from the same mirror as the machine that runs the lab:
// that mirror is the one thing known to be reachable here. It is read from the machine's
// own apt sources at run time (one-line `.list` files and deb822 `.sources` files), so no
// mirror address is ever written into klab.
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { LabStateError } from './errors.js';

export interface AptSource {
  uri: string;
  suites: string[];
  components: string[];
}

export interface SourceFile {
  path: string;
  text: string;
}

/** The `deb` entries (not `deb-src`, not disabled ones) of deb822 and one-line source files. */
export function parseAptSources(files: readonly SourceFile[]): AptSource[] {
  return files.flatMap((file) => (file.path.endsWith('.sources') ? parseDeb822(file.text) : parseOneLine(file.text)));
}

function parseOneLine(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/#.*/, '').trim();
    // `deb [options] uri suite component…`; options in brackets are irrelevant to the mirror.
    const match = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (!match) continue;
    const [, uri = '', suite = '', components = ''] = match;
    sources.push({ uri, suites: [suite], components: components.split(/\s+/).filter(Boolean) });
  }
  return sources;
}

function parseDeb822(text: string): AptSource[] {
  const sources: AptSource[] = [];
  const stanzas = text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n')
    .split(/\n\s*\n/);
  for (const stanza of stanzas) {
    const fields = new Map<string, string>();
    let current: string | undefined;
    for (const line of stanza.split('\n')) {
      if (/^\s/.test(line) && current) {
        fields.set(current, `${fields.get(current) ?? ''} ${line.trim()}`);
        continue;
      }
      const match = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (!match) continue;
      current = (match[1] ?? '').toLowerCase();
      fields.set(current, match[2] ?? '');
    }
    const words = (key: string) => (fields.get(key) ?? '').split(/\s+/).filter(Boolean);
    if (!words('types').includes('deb')) continue;
    if (/^(no|false)$/i.test(fields.get('enabled')?.trim() ?? 'yes')) continue;
    for (const uri of words('uris')) sources.push({ uri, suites: words('suites'), components: words('components') });
  }
  return sources;
}

/**
 * The sources a VM of `suite` should use: every entry with `main` whose suites belong to
 * that release (`bookworm`, `bookworm-updates`, `bookworm-security`), one per URI. The first
 * one listing the bare suite is the mirror debootstrap installs from.
 */
export function sourcesForSuite(sources: readonly AptSource[], suite: string): { mirror: string; sources: AptSource[] } {
  const belongs = (s: string) => s === suite || s.startsWith(`${suite}-`) || s.startsWith(`${suite}/`);
  const selected: AptSource[] = [];
  for (const source of sources) {
    const suites = source.suites.filter(belongs);
    if (suites.length === 0 || !source.components.includes('main')) continue;
    const uri = source.uri.replace(/\/+$/, '');
    const existing = selected.find((s) => s.uri === uri);
    if (existing) existing.suites = [...new Set([...existing.suites, ...suites])];
    else selected.push({ uri, suites, components: ['main'] });
  }
  const mirror = selected.find((s) => s.suites.includes(suite))?.uri;
  if (!mirror) {
    throw new LabStateError(
      `no apt source on this machine offers Debian ${suite} main`,
      `The lab installs Debian ${suite} from the machine's own Debian mirror; add one to /etc/apt/sources.list.d, or pass --mirror URL.`,
    );
  }
  return { mirror, sources: selected };
}

/** Reads /etc/apt/sources.list and /etc/apt/sources.list.d/*.{list,sources}. */
export async function readMachineAptSources(etcApt = '/etc/apt'): Promise<AptSource[]> {
  const files: SourceFile[] = [];
  const read = async (file: string) => {
    try {
      files.push({ path: file, text: await readFile(file, 'utf8') });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  };
  await read(path.join(etcApt, 'sources.list'));
  let names: string[] = [];
  try {
    names = await readdir(path.join(etcApt, 'sources.list.d'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  for (const name of names.sort()) {
    if (name.endsWith('.list') || name.endsWith('.sources')) await read(path.join(etcApt, 'sources.list.d', name));
  }
  return parseAptSources(files);
}

/** The VM's own sources file (deb822), listing the same mirrors as the machine. */
export function renderDeb822(sources: readonly AptSource[]): string {
  return sources
    .map((s) => [`Types: deb`, `URIs: ${s.uri}`, `Suites: ${s.suites.join(' ')}`, `Components: ${s.components.join(' ')}`, `Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg`].join('\n'))
    .join('\n\n')
    .concat('\n');
}
