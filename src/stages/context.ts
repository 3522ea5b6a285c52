// The run context: what templates and conditions see. Inventory values are fixed for a
// run; `vars` are facts captured from hosts while the run goes on (a host's machine-id, the
// installed containerd major, later a kubeadm join command), readable by later tasks and
// stages, on the same host (`host.vars.x`) or across hosts (`controlPlane.vars.x`, or
// `vars.x` inside `{{#hosts}}`).
import { clusterSettings, proxySettings } from '../inventory/cluster-settings.js';
import type { ClusterSettings, ProxySettings } from '../inventory/cluster-settings.js';
import type { Inventory } from '../inventory/schema.js';
import type { HostSelector, Stage } from './playbook.js';

export interface HostView {
  name: string;
  internalAddress: string;
  role: 'control-plane' | 'worker';
  isControlPlane: boolean;
  isWorker: boolean;
  vars: Record<string, string>;
}

export interface KlabKeys {
  /** `ssh-ed25519 AAAA… klab`: the cluster key that stage 02 installs. */
  publicKey: string;
  /** OpenSSH private key; a secret. */
  privateKey: string;
}

export interface TemplateView {
  /** The inventory's cluster settings with the values that follow from them filled in. */
  cluster: ClusterSettings;
  proxy: ProxySettings;
  broker: Inventory['broker'];
  hosts: HostView[];
  controlPlane: HostView | undefined;
  workers: HostView[];
  host: HostView;
  klab: KlabKeys;
  playbook: { vars: Record<string, unknown> };
}

/** Stand-ins used by plan/dry-run when the cluster key does not exist yet (it is created by the real run). */
export const keysNotYetCreated: KlabKeys = {
  publicKey: '(klab cluster key, created on the first real run)',
  privateKey: '(klab cluster private key, created on the first real run)',
};

export class RunContext {
  readonly hosts: HostView[];
  readonly cluster: ClusterSettings;
  readonly proxy: ProxySettings;
  private readonly secretValues = new Set<string>();

  constructor(
    readonly inventory: Inventory,
    readonly keys: KlabKeys,
    /** The workstation's state folder (.klab beside the inventory), where `localFile` tasks write. */
    readonly localDir?: string,
  ) {
    this.cluster = clusterSettings(inventory);
    this.proxy = proxySettings(inventory);
    this.hosts = inventory.hosts.map((h) => ({
      name: h.name,
      internalAddress: h.internalAddress,
      role: h.role,
      isControlPlane: h.role === 'control-plane',
      isWorker: h.role === 'worker',
      vars: {},
    }));
    this.addSecret(keys.privateKey);
  }

  /** Every secret known so far: the private key, secret captures, secret template output. */
  get secrets(): string[] {
    return [...this.secretValues];
  }

  addSecret(value: string): void {
    // Redact non-trivial values only: a one-character "secret" would blank out every log line.
    if (value.trim().length >= 6) this.secretValues.add(value.trim());
  }

  hostView(name: string): HostView {
    const view = this.hosts.find((h) => h.name === name);
    if (!view) throw new Error(`host ${name} is not in the inventory`);
    return view;
  }

  setVar(host: string, name: string, value: string, secret: boolean): void {
    this.hostView(host).vars[name] = value;
    if (secret) this.addSecret(value);
  }

  hostsFor(selector: HostSelector): HostView[] {
    if (selector === 'all') return this.hosts;
    return this.hosts.filter((h) => (selector === 'control-plane' ? h.isControlPlane : h.isWorker));
  }

  /** The hosts a stage touches: the union of its tasks' targets, in inventory order. */
  stageHosts(stage: Stage): HostView[] {
    const selectors = new Set(stage.tasks.map((t) => t.hosts));
    return this.hosts.filter((h) => [...selectors].some((s) => this.hostsFor(s).includes(h)));
  }

  view(hostName: string, stage: Stage): TemplateView {
    return {
      cluster: this.cluster,
      proxy: this.proxy,
      broker: this.inventory.broker,
      hosts: this.hosts,
      controlPlane: this.hosts.find((h) => h.isControlPlane),
      workers: this.hosts.filter((h) => h.isWorker),
      host: this.hostView(hostName),
      klab: this.keys,
      playbook: { vars: stage.vars },
    };
  }
}
