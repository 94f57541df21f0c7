/**
 * containerd for the node: private root, state and sockets in the bed's temp dir, runc from the
 * cache, the CNI plugins on the private bridge, and the locally built pause image as sandbox.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ErrorCode, KubesftpError } from '../../server/src/errors.js';
import { testbedBinary, testbedBundle } from './binaries.js';
import { systemPath } from './host.js';
import { spawnManaged, waitUntilReady, type ManagedProcess } from './processes.js';

const run = promisify(execFile);
const containerdFiles = ['containerd', 'ctr', 'containerd-shim-runc-v2'];
const cniPlugins = ['bridge', 'host-local', 'loopback', 'portmap'];

export interface ContainerdOptions {
  dir: string;
  cniConfDir: string;
  /** The pause image: its name and the tarball it is imported from. */
  sandboxImage: { name: string; tarball: string };
  timeoutMs: number;
  onStarted: (process: ManagedProcess) => void;
}

export interface Containerd {
  /** Path of the gRPC socket (the kubelet's runtime endpoint is unix://<address>). */
  address: string;
  /** Imports an image tarball into the k8s.io namespace, where the kubelet looks. */
  importImage: (tarball: string) => Promise<void>;
}

export function containerdPaths(): { bin: string; cni: string; runc: string } {
  return {
    bin: testbedBundle('containerd', containerdFiles),
    cni: testbedBundle('cni-plugins', cniPlugins),
    runc: testbedBinary('runc'),
  };
}

export async function startContainerd(options: ContainerdOptions): Promise<Containerd> {
  const paths = containerdPaths();
  const dir = join(options.dir, 'containerd');
  await mkdir(dir, { recursive: true });
  const address = join(dir, 'containerd.sock');
  const configPath = join(dir, 'config.toml');
  await writeFile(configPath, containerdConfig({ ...options, dir, address, ...paths }));
  const child = spawnManaged({
    name: 'containerd',
    command: join(paths.bin, 'containerd'),
    args: ['--config', configPath],
    // Its own shim first: containerd finds containerd-shim-runc-v2 on PATH.
    env: { PATH: `${paths.bin}:${systemPath}` },
  });
  options.onStarted(child);
  const ctr = (args: string[]): Promise<{ stdout: string }> =>
    run(join(paths.bin, 'ctr'), ['--address', address, ...args], { maxBuffer: 16 << 20 });
  const probe = async (): Promise<boolean> => {
    const { stdout } = await ctr(['plugins', 'ls']);
    return /io\.containerd\.grpc\.v1\s+cri\s+\S+\s+ok/.test(stdout);
  };
  await waitUntilReady({ process: child, probe, timeoutMs: options.timeoutMs, what: 'containerd' });
  const importImage = async (tarball: string): Promise<void> => {
    try {
      // crane's image config names no variant; --all-platforms skips the platform match.
      await ctr(['-n', 'k8s.io', 'images', 'import', '--all-platforms', tarball]);
    } catch (err) {
      const detail = (err as { stderr?: string }).stderr ?? String(err);
      throw new KubesftpError(ErrorCode.FAILURE, `ctr images import ${tarball}: ${detail}`, {
        cause: err,
      });
    }
  };
  await importImage(options.sandboxImage.tarball);
  return { address, importImage };
}

function containerdConfig(
  o: ContainerdOptions & { dir: string; address: string; cni: string; runc: string },
): string {
  const cri = "plugins.'io.containerd.cri.v1.runtime'";
  return `version = 3
root = ${toml(join(o.dir, 'root'))}
state = ${toml(join(o.dir, 'state'))}
# NRI would listen on /var/run/nri; tracing needs a collector.
disabled_plugins = ["io.containerd.nri.v1.nri", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = ${toml(o.address)}
[ttrpc]
  address = ${toml(`${o.address}.ttrpc`)}

[plugins.'io.containerd.internal.v1.opt']
  path = ${toml(join(o.dir, 'opt'))}

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = ${toml(o.sandboxImage.name)}

[${cri}]
  # The VM's bounding set lacks CAP_SYS_RESOURCE: runc cannot lower oom_score_adj, and
  # without this every sandbox fails with "can't get final child's PID from pipe".
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [${cri}.cni]
    bin_dirs = [${toml(o.cni)}]
    conf_dir = ${toml(o.cniConfDir)}
    max_conf_num = 1
  [${cri}.containerd]
    default_runtime_name = "runc"
    [${cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [${cri}.containerd.runtimes.runc.options]
        BinaryName = ${toml(o.runc)}
        Root = ${toml(join(o.dir, 'runc'))}
        SystemdCgroup = false
`;
}

function toml(value: string): string {
  return JSON.stringify(value);
}
