// A stand-in for the Kubernetes package repository (pkgs.k8s.io), for the lab tests of stages
// 06-10: kubeadm, kubelet and kubectl packages built with dpkg-deb from the stand-in scripts
// beside this file, a flat apt repository made by apt-ftparchive and signed (InRelease) with
// a throwaway gpg key, and the CNI and storage manifests, all served over HTTP on this
// machine's loopback. The lab VMs reach it through qemu's user-mode gateway, 10.0.2.2, which
// qemu maps to 127.0.0.1 here: no traffic leaves the machine. Every request is recorded, so a
// test can see that the signing key was fetched again on a re-run.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

const standInDir = path.dirname(fileURLToPath(import.meta.url));

/** How a lab VM reaches this machine's 127.0.0.1 (qemu user-mode networking). */
export const hostFromLabVm = '10.0.2.2';

interface PackageFile {
  /** In the stand-in folder. */
  from: string;
  /** Where the package installs it. */
  to: string;
  mode: number;
}

const packages: Record<'kubeadm' | 'kubelet' | 'kubectl', { description: string; files: PackageFile[] }> = {
  kubeadm: {
    description: 'Stand-in for kubeadm (klab lab tests)',
    files: [
      { from: 'bin/kubeadm', to: 'usr/bin/kubeadm', mode: 0o755 },
      { from: 'systemd/10-kubeadm.conf', to: 'usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf', mode: 0o644 },
    ],
  },
  kubelet: {
    description: 'Stand-in for the kubelet (klab lab tests)',
    files: [
      { from: 'bin/kubelet', to: 'usr/bin/kubelet', mode: 0o755 },
      { from: 'systemd/kubelet.service', to: 'usr/lib/systemd/system/kubelet.service', mode: 0o644 },
    ],
  },
  kubectl: {
    description: 'Stand-in for kubectl (klab lab tests)',
    files: [{ from: 'bin/kubectl', to: 'usr/bin/kubectl', mode: 0o755 }],
  },
};

export interface StandInManifest {
  /** URL as a lab VM reaches it. */
  url: string;
  sha256: string;
}

export interface StandInRepository {
  /** The apt repository as a lab VM reaches it (cluster.packageRepository). */
  repositoryUrl: string;
  /** Its armored signing key (cluster.packageRepositoryKey). */
  keyUrl: string;
  manifests: { calico: StandInManifest; localPath: StandInManifest };
  /** Request paths served so far, in order. */
  requests: string[];
  close(): Promise<void>;
}

export interface RepositoryOptions {
  /** Kubernetes minor, as in the repository's path (v1.37). */
  minor: string;
  /** Package versions to offer, such as 1.37.1-1.1; apt must choose among them. */
  versions: readonly string[];
}

async function gpg(home: string, args: readonly string[], input?: string): Promise<string> {
  const result = await execa('gpg', ['--batch', '--quiet', '--homedir', home, ...args], input === undefined ? {} : { input });
  return result.stdout;
}

async function buildPackage(name: keyof typeof packages, version: string, out: string, work: string): Promise<void> {
  const root = path.join(work, `${name}_${version}`);
  const upstream = version.split('-')[0] ?? version;
  await mkdir(path.join(root, 'DEBIAN'), { recursive: true });
  await writeFile(
    path.join(root, 'DEBIAN', 'control'),
    [`Package: ${name}`, `Version: ${version}`, 'Architecture: amd64', 'Maintainer: klab tests <tests@klab.invalid>', `Description: ${packages[name].description}`, ''].join('\n'),
  );
  for (const file of packages[name].files) {
    const target = path.join(root, file.to);
    await mkdir(path.dirname(target), { recursive: true });
    const text = await readFile(path.join(standInDir, file.from), 'utf8');
    await writeFile(target, text.replaceAll('@VERSION@', upstream));
    await chmod(target, file.mode);
  }
  await execa('dpkg-deb', ['--root-owner-group', '--build', root, path.join(out, `${name}_${version}_amd64.deb`)]);
}

async function sha256(file: string): Promise<string> {
  return createHash('sha256').update(await readFile(file)).digest('hex');
}

/** Builds the repository in a fresh temp folder and serves it on 127.0.0.1 until closed. */
export async function startStandInRepository(options: RepositoryOptions): Promise<StandInRepository> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'klab-kube-repo-'));
  const home = path.join(root, 'gnupg');
  const work = path.join(root, 'build');
  const repoPath = `/core:/stable:/v${options.minor}/deb/`;
  const www = path.join(root, 'www');
  const repo = path.join(www, ...repoPath.split('/').filter(Boolean));
  const manifests = path.join(www, 'manifests');
  await mkdir(home, { recursive: true, mode: 0o700 });
  await mkdir(repo, { recursive: true });
  await mkdir(manifests, { recursive: true });

  await gpg(home, ['--passphrase', '', '--quick-gen-key', 'klab stand-in repository <stand-in@klab.invalid>', 'ed25519', 'sign', '1d']);
  await writeFile(path.join(repo, 'Release.key'), await gpg(home, ['--armor', '--export']));
  for (const version of options.versions) {
    for (const name of Object.keys(packages) as (keyof typeof packages)[]) await buildPackage(name, version, repo, work);
  }
  await writeFile(path.join(repo, 'Packages'), (await execa('apt-ftparchive', ['packages', '.'], { cwd: repo })).stdout + '\n');
  await writeFile(path.join(repo, 'Release'), (await execa('apt-ftparchive', ['release', '.'], { cwd: repo })).stdout + '\n');
  await gpg(home, ['--clearsign', '--output', path.join(repo, 'InRelease'), path.join(repo, 'Release')]);
  await rm(work, { recursive: true, force: true });

  for (const name of ['calico.yaml', 'local-path-storage.yaml']) await copyFile(path.join(standInDir, 'manifests', name), path.join(manifests, name));

  const requests: string[] = [];
  const server = http.createServer((request, response) => {
    const wanted = decodeURIComponent(new URL(request.url ?? '/', 'http://stand-in').pathname);
    requests.push(wanted);
    const file = path.resolve(www, `.${wanted}`);
    const notFound = () => response.writeHead(404).end();
    if (!file.startsWith(www + path.sep)) return notFound();
    stat(file).then((info) => {
      if (!info.isFile()) return notFound();
      response.writeHead(200, { 'content-length': info.size });
      createReadStream(file).pipe(response);
    }, notFound);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const base = `http://${hostFromLabVm}:${port}`;
  const manifest = async (name: string): Promise<StandInManifest> => ({ url: `${base}/manifests/${name}`, sha256: await sha256(path.join(manifests, name)) });
  return {
    repositoryUrl: `${base}${repoPath}`,
    keyUrl: `${base}${repoPath}Release.key`,
    manifests: { calico: await manifest('calico.yaml'), localPath: await manifest('local-path-storage.yaml') },
    requests,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(root, { recursive: true, force: true });
    },
  };
}
