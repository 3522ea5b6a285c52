// Golden files: what stages 00–10 render for a sample inventory (three hosts, one of them
// with containerd 2.x), task by task: files with their content, blocks, commands with their
// guards, apt scripts, check messages. A change to a playbook or template shows up as a diff
// of test/golden/stages/*.txt in review. Update them with: UPDATE_GOLDEN=1 npx vitest run test/unit/playbooks-golden.test.ts
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { inventorySchema } from '../../src/inventory/schema.js';
import type { Inventory } from '../../src/inventory/schema.js';
import { RunContext } from '../../src/stages/context.js';
import { TemplateStore, aptScriptTemplate } from '../../src/stages/digest.js';
import { playbooksDir, templatesDir } from '../../src/stages/paths.js';
import { loadPlaybooks } from '../../src/stages/playbook.js';
import type { Stage, Task } from '../../src/stages/playbook.js';
import { render } from '../../src/stages/render.js';
import { evaluateCondition, withBlock } from '../../src/stages/tasks.js';

const goldenDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'golden', 'stages');
const update = process.env.UPDATE_GOLDEN === '1';

const hosts = [
  { name: 'master', address: '192.168.56.10', internalAddress: '192.168.56.10', role: 'control-plane', keyFile: 'id' },
  { name: 'node1', address: '192.168.56.11', internalAddress: '192.168.56.11', role: 'worker', keyFile: 'id' },
  { name: 'node2', address: '192.168.56.12', internalAddress: '192.168.56.12', role: 'worker', keyFile: 'id' },
];

/** The recorded sample: the default inventory (newest minor, Calico, IPVS, no proxy). */
const baseInventory = inventorySchema.parse({ hosts });

/**
 * Other choices, each rendered for every stage; a stage whose rendering differs from the base
 * has its own golden file under test/golden/stages/<variant>/, and one that does not must
 * render exactly as the base (so a variant file is never silently stale).
 */
const variants: Record<string, unknown> = {
  'flannel-nftables-1.36-proxy': {
    hosts,
    cluster: { kubernetesVersion: '1.36', cni: 'flannel', proxyMode: 'nftables', podCidr: '10.32.0.0/16' },
    proxy: { http: 'http://proxy.example:3128', noProxy: ['.example.internal'] },
  },
  'iptables-1.35-pinned-mirror': {
    hosts: hosts.map((h) => ({ ...h, address: '127.0.0.1', port: 2200 + Number(h.name.replace(/\D/g, '') || 0) })),
    cluster: {
      kubernetesVersion: '1.35',
      kubernetesPatch: '1.35.4',
      proxyMode: 'iptables',
      packageRepository: 'http://10.0.2.2:8080/k8s/',
      apiServerAddress: '127.0.0.1:16443',
      scheduleOnControlPlane: false,
      manifests: { calico: { url: 'http://10.0.2.2:8080/calico.yaml', sha256: 'ab'.repeat(32) } },
    },
  },
};

/** What the hosts would report when captured: a fresh Ubuntu 22.04 (node2 with containerd 2.x). */
function sampleContext(inventory: Inventory = baseInventory): RunContext {
  const context = new RunContext(inventory, {
    publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGoldenGoldenGoldenGoldenGoldenGoldenGolden klab-cluster',
    privateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\ngolden\n-----END OPENSSH PRIVATE KEY-----\n',
  });
  for (const [index, host] of context.hosts.entries()) {
    const facts: Record<string, string> = {
      uid: '0',
      os: 'ubuntu 22.04',
      osName: 'Ubuntu 22.04.4 LTS',
      cpus: '2',
      memoryMb: '3911',
      hasInternalAddress: 'yes',
      machineId: `${index}`.repeat(32),
      hostname: 'ubuntu',
      swapDevices: '1',
      hostKey: `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyOf${host.name}`,
      sshdIncludesDropIns: 'yes',
      containerdMajor: host.name === 'node2' ? '2' : '1',
      systemdCgroup: 'true',
      routeClash: 'none',
      kubePackageVersion: `${inventory.cluster.kubernetesPatch ?? `${inventory.cluster.kubernetesVersion}.2`}-1.1`,
      kubeadmVersion: `v${inventory.cluster.kubernetesPatch ?? `${inventory.cluster.kubernetesVersion}.2`}`,
      ignorePreflightErrors: 'NumCPU',
      workstationKubeconfig: 'apiVersion: v1\nclusters:\n- cluster:\n    server: https://golden:6443\n',
    };
    for (const [name, value] of Object.entries(facts)) context.setVar(host.name, name, value, false);
  }
  return context;
}

async function describeTask(stage: Stage, task: Task, context: RunContext, host: string, templates: TemplateStore): Promise<string> {
  const view = context.view(host, stage);
  const where = `${stage.id} ${task.name}`;
  if (task.when && !evaluateCondition(task.when, view, where)) return `skipped: ${task.when.var} does not match\n`;
  const r = (text: string) => render(text, view, where);
  const s = task.spec;
  switch (task.kind) {
    case 'template': {
      const spec = task.spec;
      const content = r(await templates.load(spec.src, stage.file));
      const head = `file ${r(spec.dest)} mode ${spec.mode.toString(8)}${spec.owner ? ` owner ${spec.owner}` : ''}${spec.backup ? ' (backup when replaced)' : ''}\n`;
      return spec.secret ? `${head}<secret: ${content.length} bytes>\n` : `${head}${content}`;
    }
    case 'blockinfile':
      return `block in ${r(task.spec.path)} (mode ${task.spec.mode.toString(8)} when created)\n${withBlock('', task.spec.id, r(task.spec.block))}`;
    case 'command':
      return [
        `run: ${r(task.spec.run).trim()}`,
        ...(task.spec.unless ? [`unless: ${r(task.spec.unless)}`] : []),
        ...(task.spec.creates ? [`creates: ${r(task.spec.creates)}`] : []),
        ...(task.spec.onChange ? [`on change of: ${task.spec.onChange.join(', ')}`] : []),
        `timeout: ${task.spec.timeoutSeconds} s`,
        '',
      ].join('\n');
    case 'apt': {
      const packages = task.spec.packages.map(r).join(' ');
      return `packages: ${packages}\n${render(await templates.load(aptScriptTemplate, stage.file), { packages }, where)}`;
    }
    case 'localFile':
      return `local file .klab/${task.spec.name} mode ${task.spec.mode.toString(8)}${task.spec.secret ? ' (secret)' : ''}\n${task.spec.secret ? `<secret: ${r(task.spec.content).length} bytes>` : r(task.spec.content)}\n`;
    case 'wait':
      return `wait up to ${task.spec.timeoutSeconds} s (every ${task.spec.intervalSeconds} s) for: ${r(task.spec.command)}\n`;
    case 'capture':
      return `capture ${task.spec.var}${task.spec.secret ? ' (secret)' : ''} from ${task.spec.command ? `command: ${r(task.spec.command)}` : `file ${r(task.spec.file ?? '')}`}${task.spec.match ? ` matching /${task.spec.match}/` : ''}\n`;
    case 'check': {
      const spec = task.spec;
      const test = spec.assert ? `assert ${JSON.stringify(spec.assert)}` : spec.unique ? `unique ${spec.unique}` : `clock skew at most ${spec.clockSkew?.maxSeconds} s`;
      return `${test} (${spec.severity})\nmessage: ${r(spec.message)}\n`;
    }
  }
  return `unknown ${JSON.stringify(s)}\n`;
}

async function renderStage(stage: Stage, inventory: Inventory = baseInventory): Promise<string> {
  const context = sampleContext(inventory);
  const templates = new TemplateStore(templatesDir());
  const lines: string[] = [`# ${stage.id}: ${stage.description}`, ''];
  for (const [index, task] of stage.tasks.entries()) {
    const targets = context.hostsFor(task.hosts).map((h) => h.name);
    lines.push(`## ${index + 1}. ${task.name} [${task.kind}, ${task.hosts}${task.when ? `, when ${JSON.stringify(task.when)}` : ''}]${task.id ? ` id=${task.id}` : ''}`);
    // Hosts that render the same text are listed together, so three hosts don't triple the file.
    const groups = new Map<string, string[]>();
    for (const host of targets) {
      const text = await describeTask(stage, task, context, host, templates);
      groups.set(text, [...(groups.get(text) ?? []), host]);
    }
    for (const [text, hosts] of groups) lines.push(`### ${hosts.join(', ')}`, text);
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

describe('golden renderings of the shipped stages', async () => {
  const stages = await loadPlaybooks(playbooksDir());
  for (const stage of stages) {
    it(`${stage.id} renders as recorded`, async () => {
      const actual = await renderStage(stage);
      const file = path.join(goldenDir, `${stage.id}.txt`);
      if (update) {
        await mkdir(goldenDir, { recursive: true });
        await writeFile(file, actual);
      }
      const expected = await readFile(file, 'utf8').catch(() => '(no golden file yet: run with UPDATE_GOLDEN=1)');
      expect(actual).toBe(expected);
    });
  }

  it('teardown/00-reset (klab reset) renders as recorded', async () => {
    const [reset] = await loadPlaybooks(path.join(playbooksDir(), 'teardown'));
    if (reset === undefined) throw new Error('no reset playbook');
    const actual = await renderStage(reset);
    const file = path.join(goldenDir, '..', 'teardown', `${reset.id}.txt`);
    if (update) {
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, actual);
    }
    expect(actual).toBe(await readFile(file, 'utf8').catch(() => '(no golden file yet: run with UPDATE_GOLDEN=1)'));
    expect(actual).toContain('run: kubeadm reset -f --cri-socket unix:///run/containerd/containerd.sock');
    expect(actual).toContain('run: ipvsadm --clear');
  });

  for (const [variant, raw] of Object.entries(variants)) {
    it(`${variant}: every stage renders as recorded (a variant file where it differs from the base)`, async () => {
      const inventory = inventorySchema.parse(raw);
      for (const stage of stages) {
        const actual = await renderStage(stage, inventory);
        const base = await renderStage(stage);
        const file = path.join(goldenDir, variant, `${stage.id}.txt`);
        if (update) {
          await rm(file, { force: true });
          if (actual !== base) {
            await mkdir(path.dirname(file), { recursive: true });
            await writeFile(file, actual);
          }
        }
        const recorded = await readFile(file, 'utf8').catch(() => undefined);
        expect(actual, `${variant}/${stage.id}`).toBe(recorded ?? base);
      }
    });
  }

  it('writes config version 2 for containerd 1.x and version 3 for 2.x, both with the systemd cgroup driver', async () => {
    const text = await renderStage(stages.find((s) => s.id === '05-containerd') as Stage);
    const v2 = text.indexOf('version = 2');
    const v3 = text.indexOf('version = 3');
    expect(v2).toBeGreaterThan(-1);
    expect(v3).toBeGreaterThan(-1);
    expect(text).toMatch(/### master, node1\nfile \/etc\/containerd\/config.toml mode 644\n# Written by klab \(stage 05-containerd\) for containerd 1\.x/);
    expect(text).toMatch(/### node2\nfile \/etc\/containerd\/config.toml mode 644\n# Written by klab \(stage 05-containerd\) for containerd 2\.x/);
    expect(text.match(/SystemdCgroup = true/g)?.length).toBe(2);
    expect(text).toContain('sandbox_image = "registry.k8s.io/pause:3.10.2"');
    expect(text).toContain(`sandbox = "registry.k8s.io/pause:3.10.2"`);
  });

  it('never renders the private key into a golden file', async () => {
    const text = await renderStage(stages.find((s) => s.id === '02-ssh') as Stage);
    expect(text).not.toContain('golden\n-----END');
    expect(text).toContain('<secret: ');
    expect(text).toContain('master,192.168.56.10 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyOfmaster');
  });
});
