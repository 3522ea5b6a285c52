// Stage 08 writes the pod CIDR into the CNI manifest before applying it. The edit is run
// here by sh and sed as on the control plane, on the lines the pinned manifests carry
// (Calico's commented-out pool CIDR, Flannel's net-conf.json), with kubectl replaced by cat.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { inventorySchema } from '../../src/inventory/schema.js';
import { RunContext } from '../../src/stages/context.js';
import { playbooksDir } from '../../src/stages/paths.js';
import { loadPlaybooks } from '../../src/stages/playbook.js';
import { render } from '../../src/stages/render.js';
import { testTempDir } from '../support/temp-dir.js';

const run = promisify(execFile);

const calicoLines = `            - name: CALICO_IPV4POOL_IPIP
              value: "Always"
            # - name: CALICO_IPV4POOL_CIDR
            #   value: "192.168.0.0/16"
            - name: FELIX_LOGSEVERITYSCREEN
`;

const flannelLines = `  net-conf.json: |
    {
      "Network": "10.244.0.0/16",
      "EnableNFTables": false,
      "Backend": {
        "Type": "vxlan"
      }
    }
`;

async function applied(cni: 'calico' | 'flannel', manifest: string): Promise<{ ok: boolean; text: string }> {
  const stages = await loadPlaybooks(playbooksDir());
  const network = stages.find((s) => s.id === '08-network');
  const task = network?.tasks.find((t) => t.name === `Apply ${cni === 'calico' ? 'Calico' : 'Flannel'} with the pod CIDR`);
  if (network === undefined || task?.kind !== 'command') throw new Error(`no apply task for ${cni}`);
  const inventory = inventorySchema.parse({ hosts: [{ name: 'master', address: '192.168.56.10', role: 'control-plane' }], cluster: { cni, podCidr: '10.32.0.0/16' } });
  const context = new RunContext(inventory, { publicKey: 'k', privateKey: 'p' });
  const dir = await testTempDir('klab-cni-');
  const command = render(task.spec.run, context.view('master', network), 'test')
    .replaceAll('/var/lib/klab/manifests', dir)
    .replace('kubectl --kubeconfig /etc/kubernetes/admin.conf apply -f', 'cat');
  await writeFile(path.join(dir, path.basename(context.cluster.cniManifest.file)), manifest);
  const ok = await run('sh', ['-c', command]).then(() => true, () => false);
  const text = await readFile(path.join(dir, `${path.basename(context.cluster.cniManifest.file)}.klab`), 'utf8');
  return { ok, text };
}

describe('stage 08 writes the pod CIDR into the CNI manifest', () => {
  it('Calico: the pool CIDR lines are uncommented with the inventory\'s CIDR, the rest unchanged', async () => {
    const { ok, text } = await applied('calico', calicoLines);
    expect(ok).toBe(true);
    expect(text).toBe(calicoLines.replace('            # - name: CALICO_IPV4POOL_CIDR\n            #   value: "192.168.0.0/16"', '            - name: CALICO_IPV4POOL_CIDR\n              value: "10.32.0.0/16"'));
  });

  it('Flannel: net-conf.json names the inventory\'s CIDR', async () => {
    const { ok, text } = await applied('flannel', flannelLines);
    expect(ok).toBe(true);
    expect(text).toBe(flannelLines.replace('10.244.0.0/16', '10.32.0.0/16'));
  });

  it('a manifest without those lines is not applied', async () => {
    expect((await applied('calico', 'kind: DaemonSet\n')).ok).toBe(false);
    expect((await applied('flannel', 'kind: DaemonSet\n')).ok).toBe(false);
  });
});
