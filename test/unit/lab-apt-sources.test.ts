import { describe, expect, it } from 'vitest';
import { parseAptSources, renderDeb822, sourcesForSuite } from '../../src/lab/apt-sources.js';
import { LabStateError } from '../../src/lab/errors.js';

// Mirror names here are placeholders on the reserved .example domain.
const deb822 = `Types: deb
# a comment line inside a stanza
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb deb-src
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main

Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Components: main
Enabled: no
`;

const oneLine = `# deb http://commented.example/debian bookworm main
deb [arch=amd64 signed-by=/k.gpg] http://other.example/debian bookworm main non-free
deb-src http://src.example/debian bookworm main
deb http://thirdparty.example/apt stable main
`;

describe('apt sources of the machine', () => {
  it('reads deb822 stanzas, skipping deb-src-only and disabled ones', () => {
    const sources = parseAptSources([{ path: '/etc/apt/sources.list.d/debian.sources', text: deb822 }]);
    expect(sources).toEqual([
      { uri: 'http://mirror.example/debian', suites: ['bookworm', 'bookworm-updates'], components: ['main', 'contrib'] },
      { uri: 'http://security.example/debian-security', suites: ['bookworm-security'], components: ['main'] },
    ]);
  });

  it('reads one-line entries with options, ignoring comments and deb-src', () => {
    const sources = parseAptSources([{ path: '/etc/apt/sources.list', text: oneLine }]);
    expect(sources.map((s) => s.uri)).toEqual(['http://other.example/debian', 'http://thirdparty.example/apt']);
    expect(sources[0]).toEqual({ uri: 'http://other.example/debian', suites: ['bookworm'], components: ['main', 'non-free'] });
  });

  it('picks the mirror of the suite and every source of that release, and nothing else', () => {
    const sources = parseAptSources([
      { path: 'a.sources', text: deb822 },
      { path: 'b.list', text: oneLine },
    ]);
    const chosen = sourcesForSuite(sources, 'bookworm');
    expect(chosen.mirror).toBe('http://mirror.example/debian');
    expect(chosen.sources.map((s) => s.uri)).toEqual([
      'http://mirror.example/debian',
      'http://security.example/debian-security',
      'http://other.example/debian',
    ]);
    expect(chosen.sources.every((s) => s.components.join() === 'main')).toBe(true);
  });

  it('names the missing release when the machine has no source for it', () => {
    const sources = parseAptSources([{ path: 'b.list', text: 'deb http://thirdparty.example/apt stable main\n' }]);
    expect(() => sourcesForSuite(sources, 'bookworm')).toThrow(LabStateError);
    expect(() => sourcesForSuite(sources, 'bookworm')).toThrow(/Debian bookworm main/);
  });

  it('renders a deb822 file the VM can use', () => {
    const text = renderDeb822([{ uri: 'http://mirror.example/debian', suites: ['bookworm', 'bookworm-updates'], components: ['main'] }]);
    expect(text).toContain('URIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n');
    expect(parseAptSources([{ path: 'x.sources', text }])).toHaveLength(1);
  });
});
