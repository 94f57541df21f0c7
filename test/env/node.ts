/**
 * A control plane with one real node: containerd, runc, CNI on a private bridge, the kubelet
 * and kube-proxy. Whatever it changes on the machine is written to the node record before it
 * is changed, and undone by stop(), by exit and signal handlers, or by the next start when
 * this process was killed outright.
 */
import { mkdir, mkdtemp } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, KubesftpError } from '../../server/src/errors.js';
import { pauseImage, testbedBinary } from './binaries.js';
import { startContainerd } from './containerd.js';
import { startControlPlane, type ControlPlane } from './control-plane.js';
import { startControllerManager, startScheduler } from './controllers.js';
import { cgroupHierarchies, readSysctls, recordProcess } from './host.js';
import { startKubelet, startKubeProxy } from './kubelet.js';
import { cleanUpNode } from './node-cleanup.js';
import { nodeChains, presentTables } from './node-iptables.js';
import { createBridge, nodeNetwork, writeCniConfig } from './node-network.js';
import { waitForNodeReady, waitForNamespaceReady } from './node-readiness.js';
import {
  acquireNodeLock,
  readRecord,
  removeRecord,
  writeRecord,
  type NodeLock,
  type NodeRecord,
} from './node-state.js';
import type { ManagedProcess } from './processes.js';

export const nodeName = 'kubesftp-node';

/** Sysctls the kubelet, the bridge plugin or kube-proxy may change; restored on stop. */
const watchedSysctls = [
  'vm.overcommit_memory',
  'vm.panic_on_oom',
  'kernel.panic',
  'kernel.panic_on_oops',
  'kernel.keys.root_maxkeys',
  'kernel.keys.root_maxbytes',
  'net.ipv4.ip_forward',
  'net.ipv6.conf.all.forwarding',
  'net.ipv4.conf.all.route_localnet',
  'net.netfilter.nf_conntrack_max',
  'net.netfilter.nf_conntrack_tcp_timeout_established',
  'net.netfilter.nf_conntrack_tcp_timeout_close_wait',
  'net.bridge.bridge-nf-call-iptables',
  'net.bridge.bridge-nf-call-ip6tables',
];

/** Paths the node's binaries create outside the temp dir whatever they are told. */
const machinePaths = [
  '/var/lib/kubelet',
  '/var/log/pods',
  '/var/log/containers',
  '/usr/libexec/kubernetes',
  '/var/lib/cni',
  '/etc/cni',
  '/opt/cni',
  '/run/containerd',
  '/var/lib/containerd',
  '/opt/containerd',
  '/etc/containerd',
  '/run/runc',
  '/run/netns',
  '/run/nri',
  '/run/xtables.lock',
];

export interface KubernetesNode {
  name: string;
  /** The node's InternalIP on the bridge: NodePorts, the kubelet and the API server listen here. */
  address: string;
  podCidr: string;
  serviceCidr: string;
  /** Imports an image tarball into the node's containerd, for pods with imagePullPolicy Never. */
  importImage: (tarball: string) => Promise<void>;
}

export interface NodeCluster {
  /** The temp dir everything of the bed lives in. */
  dir: string;
  controlPlane: ControlPlane;
  node: KubernetesNode;
  stop: () => Promise<void>;
}

export async function startNodeCluster(options: {
  timeoutMs: number;
  lockTimeoutMs: number;
}): Promise<NodeCluster> {
  if (process.getuid?.() !== 0) {
    throw new KubesftpError(
      ErrorCode.PERMISSION_DENIED,
      'the test bed node needs root: it creates a bridge, cgroups, mounts and iptables rules',
    );
  }
  const binaries = lookUpNodeBinaries();
  const lock = await acquireNodeLock(options.lockTimeoutMs);
  let bed: RunningBed | undefined;
  try {
    cleanUpLeftovers();
    bed = await prepareBed(lock, binaries.kubeProxy);
    return await startParts(bed, { ...options, pause: binaries.pause });
  } catch (err) {
    if (bed === undefined) lock.release();
    // The start failure is the error to report; a failed cleanup still gets its word.
    else
      await bed
        .stop()
        .catch((cleanupErr: Error) => process.stderr.write(`${cleanupErr.message}\n`));
    throw err;
  }
}

/** Every binary is looked up first, so that a missing one fails before anything starts. */
function lookUpNodeBinaries(): { kubeProxy: string; pause: ReturnType<typeof pauseImage> } {
  for (const name of ['kube-controller-manager', 'kube-scheduler', 'kubelet', 'runc'] as const) {
    testbedBinary(name);
  }
  return { kubeProxy: testbedBinary('kube-proxy'), pause: pauseImage() };
}

/** A previous run that was killed left its record: undo it before anything else starts. */
function cleanUpLeftovers(): void {
  const leftover = readRecord();
  if (leftover !== undefined) {
    process.stderr.write(
      `test bed: undoing what the node of pid ${leftover.ownerPid} left (${leftover.dir})\n`,
    );
    const problems = cleanUpNode(leftover);
    if (problems.length > 0) throw cleanupFailure(problems);
    removeRecord();
  }
  if (existsSync(`/sys/class/net/${nodeNetwork.bridge}`)) {
    throw new KubesftpError(
      ErrorCode.CONFLICT,
      `bridge ${nodeNetwork.bridge} exists but no test bed run recorded it; remove it with ` +
        `\`ip link del ${nodeNetwork.bridge}\` if nothing else uses it`,
    );
  }
}

function cleanupFailure(problems: string[]): KubesftpError {
  return new KubesftpError(
    ErrorCode.FAILURE,
    `the test bed node could not be fully cleaned up:\n  ${problems.join('\n  ')}`,
  );
}

interface RunningBed {
  record: NodeRecord;
  started: ManagedProcess[];
  onStarted: (process: ManagedProcess) => void;
  stop: () => Promise<void>;
}

async function prepareBed(lock: NodeLock, kubeProxyBinary: string): Promise<RunningBed> {
  const dir = await mkdtemp('/tmp/kubesftp-node-');
  const record: NodeRecord = {
    ownerPid: process.pid,
    dir,
    bridge: nodeNetwork.bridge,
    addressRange: nodeNetwork.addressRange,
    processes: [],
    sysctls: readSysctls(watchedSysctls),
    // Tables first: should listing chains create a table, it was still not ours.
    tablesBefore: presentTables(),
    chainsBefore: nodeChains(),
    createdPaths: machinePaths.filter((path) => !existsSync(path)),
    createdCgroups: cgroupHierarchies()
      .map((hierarchy) => join(hierarchy, 'kubepods'))
      .filter((cgroup) => !existsSync(cgroup)),
    cniNetwork: nodeNetwork.cniNetwork,
    containerdAddress: join(dir, 'containerd', 'containerd.sock'),
    kubeProxyBinary,
  };
  writeRecord(record);
  const started: ManagedProcess[] = [];
  const undoHooks = installExitCleanup(record);
  const stop = async (): Promise<void> => {
    for (const child of [...started].reverse()) await child.stop();
    const problems = cleanUpNode(record);
    undoHooks();
    // A record that failed to clean up stays, so that the next start tries again.
    if (problems.length === 0) removeRecord();
    lock.release();
    if (problems.length > 0) throw cleanupFailure(problems);
  };
  const onStarted = (child: ManagedProcess): void => {
    started.push(child);
    record.processes.push(recordProcess(child.name, child.pid));
    writeRecord(record);
  };
  return { record, started, onStarted, stop };
}

/** Cleans up when the process exits or is told to stop before stop() ran; returns the undo. */
function installExitCleanup(record: NodeRecord): () => void {
  let done = false;
  const cleanUp = (): void => {
    if (done) return;
    done = true;
    const problems = cleanUpNode(record);
    if (problems.length === 0) removeRecord();
    else process.stderr.write(`${cleanupFailure(problems).message}\n`);
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    cleanUp();
    process.exit(128 + constants.signals[signal]);
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  process.on('exit', cleanUp);
  for (const signal of signals) process.on(signal, onSignal);
  return () => {
    done = true;
    process.off('exit', cleanUp);
    for (const signal of signals) process.off(signal, onSignal);
  };
}

async function startParts(
  bed: RunningBed,
  options: { timeoutMs: number; pause: ReturnType<typeof pauseImage> },
): Promise<NodeCluster> {
  const { dir } = bed.record;
  const common = { timeoutMs: options.timeoutMs, onStarted: bed.onStarted };
  createBridge(nodeNetwork);
  const controlPlane = await startControlPlane({
    ...common,
    dir,
    address: nodeNetwork.nodeAddress,
    serviceCidr: nodeNetwork.serviceCidr,
    extraServingIps: [nodeNetwork.apiServiceAddress],
    withNode: true,
  });
  const controllers = { ...common, controlPlane, serviceCidr: nodeNetwork.serviceCidr };
  await startControllerManager(controllers);
  await startScheduler(controllers);
  const cniConfDir = join(dir, 'cni', 'net.d');
  await mkdir(cniConfDir, { recursive: true });
  await writeCniConfig(nodeNetwork, { confDir: cniConfDir, ipamDir: join(dir, 'cni', 'ipam') });
  const containerd = await startContainerd({
    ...common,
    dir,
    cniConfDir,
    sandboxImage: options.pause,
  });
  const agents = { ...common, dir, nodeName, network: nodeNetwork, controlPlane };
  await startKubelet({ ...agents, containerdAddress: containerd.address });
  await waitForNodeReady(controlPlane, nodeName, options.timeoutMs);
  await startKubeProxy(agents);
  await waitForNamespaceReady(controlPlane, 'default', options.timeoutMs);
  const node: KubernetesNode = {
    name: nodeName,
    address: nodeNetwork.nodeAddress,
    podCidr: nodeNetwork.podCidr,
    serviceCidr: nodeNetwork.serviceCidr,
    importImage: containerd.importImage,
  };
  return { dir, controlPlane, node, stop: bed.stop };
}
