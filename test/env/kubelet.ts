/**
 * The kubelet and kube-proxy of the node. The kubelet keeps its root, certificates, plugins
 * and pod logs in the bed's temp dir and serves logs and exec on the bridge address to the API
 * server's client certificate; kube-proxy routes Services with iptables, NodePorts on the
 * bridge address only.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { testbedBinary } from './binaries.js';
import type { ControlPlane } from './control-plane.js';
import { systemPath } from './host.js';
import type { NodeNetwork } from './node-network.js';
import {
  freeLoopbackPort,
  spawnManaged,
  waitUntilReady,
  type ManagedProcess,
} from './processes.js';

export interface NodeAgentOptions {
  dir: string;
  nodeName: string;
  network: NodeNetwork;
  controlPlane: ControlPlane;
  timeoutMs: number;
  onStarted: (process: ManagedProcess) => void;
}

export async function startKubelet(
  options: NodeAgentOptions & { containerdAddress: string },
): Promise<void> {
  const dir = join(options.dir, 'kubelet');
  await mkdir(dir, { recursive: true });
  const healthzPort = await freeLoopbackPort();
  const configPath = join(dir, 'config.yaml');
  await writeFile(configPath, stringify(kubeletConfig({ ...options, dir, healthzPort })));
  const child = spawnManaged({
    name: 'kubelet',
    command: testbedBinary('kubelet'),
    args: [
      ['--config', configPath, '--kubeconfig', options.controlPlane.kubeconfigPath],
      ['--root-dir', join(dir, 'root'), '--cert-dir', join(dir, 'pki')],
      ['--hostname-override', options.nodeName, '--node-ip', options.network.nodeAddress],
    ].flat(),
    env: { PATH: systemPath },
  });
  options.onStarted(child);
  const probe = async (): Promise<boolean> =>
    (await fetch(`http://127.0.0.1:${healthzPort}/healthz`)).ok;
  await waitUntilReady({ process: child, probe, timeoutMs: options.timeoutMs, what: 'kubelet' });
}

function kubeletConfig(
  options: NodeAgentOptions & { dir: string; containerdAddress: string; healthzPort: number },
): Record<string, unknown> {
  const endpoint = `unix://${options.containerdAddress}`;
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    // Kubernetes 1.37 refuses cgroup v1 unless told, and these VMs have nothing else.
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    failSwapOn: false,
    containerRuntimeEndpoint: endpoint,
    imageServiceEndpoint: endpoint,
    address: options.network.nodeAddress,
    port: 10250,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: options.healthzPort,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: false },
      x509: { clientCAFile: options.controlPlane.caCertPath },
    },
    authorization: { mode: 'AlwaysAllow' },
    podCIDR: options.network.podCidr,
    volumePluginDir: join(options.dir, 'volume-plugins'),
    podLogsDir: join(options.dir, 'pod-logs'),
    // A small, shared disk: never evict or collect images because of it.
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionHard: {
      'memory.available': '100Mi',
      'nodefs.available': '1%',
      'imagefs.available': '1%',
    },
    // ConfigMap and Secret volumes follow their objects within seconds, not a minute.
    syncFrequency: '10s',
    rotateCertificates: false,
    serializeImagePulls: false,
  };
}

export async function startKubeProxy(options: NodeAgentOptions): Promise<void> {
  const dir = join(options.dir, 'kube-proxy');
  await mkdir(dir, { recursive: true });
  const healthzPort = await freeLoopbackPort();
  const metricsPort = await freeLoopbackPort();
  const configPath = join(dir, 'config.yaml');
  const config = {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode: 'iptables',
    clientConnection: { kubeconfig: options.controlPlane.kubeconfigPath },
    hostnameOverride: options.nodeName,
    clusterCIDR: options.network.podCidr,
    // NodePorts on the bridge only, never on the machine's public interface.
    nodePortAddresses: [`${options.network.nodeAddress}/32`],
    iptables: { localhostNodePorts: false },
    // Zero leaves the machine's conntrack sysctls as they are.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    healthzBindAddress: `127.0.0.1:${healthzPort}`,
    metricsBindAddress: `127.0.0.1:${metricsPort}`,
  };
  await writeFile(configPath, stringify(config));
  const child = spawnManaged({
    name: 'kube-proxy',
    command: testbedBinary('kube-proxy'),
    args: ['--config', configPath],
    env: { PATH: systemPath },
  });
  options.onStarted(child);
  const probe = async (): Promise<boolean> =>
    (await fetch(`http://127.0.0.1:${healthzPort}/healthz`)).ok;
  await waitUntilReady({ process: child, probe, timeoutMs: options.timeoutMs, what: 'kube-proxy' });
}
