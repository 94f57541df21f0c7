/**
 * Finds the test bed binaries that setup.sh built. The versions come from versions.env, the
 * one place they are pinned, so a version bump can never run against a stale binary.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, KubesftpError } from '../../server/src/errors.js';

/** Cache entries holding one binary of the same name. */
export type TestbedBinary =
  | 'etcd'
  | 'kube-apiserver'
  | 'kube-controller-manager'
  | 'kube-scheduler'
  | 'kubelet'
  | 'kube-proxy'
  | 'kubectl'
  | 'helm'
  | 'minio'
  | 'runc'
  | 'crane';

/** Cache entries holding several files: containerd with ctr and its shim, the CNI plugins. */
export type TestbedBundle = 'containerd' | 'cni-plugins';

const versionKeys: Record<TestbedBinary | TestbedBundle, string> = {
  etcd: 'ETCD_VERSION',
  'kube-apiserver': 'KUBE_VERSION',
  'kube-controller-manager': 'KUBE_VERSION',
  'kube-scheduler': 'KUBE_VERSION',
  kubelet: 'KUBE_VERSION',
  'kube-proxy': 'KUBE_VERSION',
  kubectl: 'KUBE_VERSION',
  helm: 'HELM_VERSION',
  minio: 'MINIO_VERSION',
  runc: 'RUNC_VERSION',
  crane: 'CRANE_VERSION',
  containerd: 'CONTAINERD_VERSION',
  'cni-plugins': 'CNI_PLUGINS_VERSION',
};

/** The repository root: compiled code runs from dist/, while versions.env and fixtures stay in the tree. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'test', 'env', 'versions.env'))) {
    const parent = dirname(dir);
    if (parent === dir) {
      throw new KubesftpError(
        ErrorCode.NOT_FOUND,
        `test/env/versions.env not found above ${fileURLToPath(import.meta.url)}`,
      );
    }
    dir = parent;
  }
  return dir;
}

export function versionsFilePath(): string {
  return join(repoRoot(), 'test', 'env', 'versions.env');
}

export function readPinnedVersions(path = versionsFilePath()): Record<string, string> {
  const versions: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const match = /^\s*([A-Z0-9_]+)=(\S+)\s*$/.exec(line);
    if (match) versions[match[1]!] = match[2]!;
  }
  return versions;
}

export function testbedCacheDir(): string {
  return process.env['KUBESFTP_TESTBED_CACHE'] || join(homedir(), '.cache', 'kubesftp-testbed');
}

/** Absolute path of a built binary; throws (never skips) when setup.sh has not built it. */
export function testbedBinary(name: TestbedBinary): string {
  return builtFile(name, pinnedVersion(name), name);
}

/** The directory of a built bundle (containerd, cni-plugins), checked for FILES. */
export function testbedBundle(name: TestbedBundle, files: readonly string[]): string {
  const version = pinnedVersion(name);
  for (const file of files) builtFile(name, version, file);
  return join(testbedCacheDir(), `${name}-${version}`);
}

/** The pause image tarball; its version is a hash of test/env/pause, as in setup.sh. */
export function pauseImage(): { name: string; tarball: string } {
  const source = join(repoRoot(), 'test', 'env', 'pause');
  const version = createHash('sha256')
    .update(readFileSync(join(source, 'main.go')))
    .update(readFileSync(join(source, 'go.mod')))
    .digest('hex')
    .slice(0, 12);
  return {
    name: `kubesftp.test/pause:${version}`,
    tarball: builtFile('pause-image', version, 'image.tar'),
  };
}

function pinnedVersion(name: TestbedBinary | TestbedBundle): string {
  const version = readPinnedVersions()[versionKeys[name]];
  if (version === undefined) {
    throw new KubesftpError(
      ErrorCode.CONFIG_INVALID,
      `versions.env does not pin ${versionKeys[name]}`,
    );
  }
  return version;
}

function builtFile(entry: string, version: string, file: string): string {
  const path = join(testbedCacheDir(), `${entry}-${version}`, file);
  if (!existsSync(path)) {
    throw new KubesftpError(
      ErrorCode.NOT_FOUND,
      `${entry} ${version} is not built (looked for ${path}); run \`make testbed\` first`,
    );
  }
  return path;
}
