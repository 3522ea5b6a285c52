// The localFile task kind writes into the workstation's state folder (.klab): stage 07 saves
// the kubeconfig there. It writes with the mode asked (0600), changes nothing when the
// content is the same, writes nothing in a dry run, and never touches a host.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { inventorySchema } from '../../src/inventory/schema.js';
import { RunContext } from '../../src/stages/context.js';
import { TemplateStore } from '../../src/stages/digest.js';
import { parsePlaybook } from '../../src/stages/playbook.js';
import { HostStep, runLocalFile } from '../../src/stages/tasks.js';
import type { Host } from '../../src/transport/host.js';
import { testTempDir } from '../support/temp-dir.js';

const untouchable = new Proxy({ name: 'master' } as Host, {
  get: (target, key) => (key === 'name' ? target.name : () => Promise.reject(new Error(`the host was used (${String(key)})`))),
});

const stage = parsePlaybook(
  '/playbooks/07-sample.yaml',
  'name: sample\ndescription: d\ntasks:\n  - name: save\n    localFile: { name: kubeconfig, content: "server: {{cluster.apiServerUrl}}" }\n',
);

async function save(dir: string, dryRun: boolean): Promise<{ changed: boolean; detail: string }> {
  const inventory = inventorySchema.parse({ hosts: [{ name: 'master', address: '192.168.56.10', role: 'control-plane' }] });
  const context = new RunContext(inventory, { publicKey: 'k', privateKey: 'p' }, dir);
  const task = stage.tasks[0];
  if (task?.kind !== 'localFile') throw new Error('not a localFile task');
  const step = new HostStep(untouchable, dryRun, context);
  const env = { step, view: context.view('master', stage), context, templates: new TemplateStore('/none'), where: 'test', playbookFile: stage.file };
  const result = await runLocalFile(env, task.spec);
  return { changed: step.changed, detail: result.detail };
}

describe('localFile task', () => {
  it('writes 0600 into the state folder once, then reports it up to date; a dry run writes nothing', async () => {
    const dir = await testTempDir('klab-local-');
    const file = path.join(dir, 'kubeconfig');
    expect(await save(dir, true)).toMatchObject({ changed: true });
    await expect(stat(file)).rejects.toThrow(/ENOENT/);
    expect(await save(dir, false)).toEqual({ changed: true, detail: `wrote ${file}` });
    expect(await readFile(file, 'utf8')).toBe('server: https://192.168.56.10:6443\n');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await save(dir, false)).toEqual({ changed: false, detail: `${file} is up to date` });
  });
});
