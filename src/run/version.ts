// klab's version, from package.json (bundled into dist/klab.js at build time).
import packageJson from '../../package.json' with { type: 'json' };

export const klabVersion: string = packageJson.version;
