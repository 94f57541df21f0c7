/**
 * The node's network: a private bridge whose address is the node's, pods on a private CIDR
 * behind it, Services on another. The bridge exists before the API server starts, so that the
 * API server can listen on it (pods reach it through the kubernetes Service) and never on a
 * public interface.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mustRun } from './host.js';

export interface NodeNetwork {
  bridge: string;
  /** The bridge's address: the node's InternalIP, the pods' gateway, the API server's address. */
  nodeAddress: string;
  podCidr: string;
  serviceCidr: string;
  /** The first Service address, which the kubernetes Service gets. */
  apiServiceAddress: string;
  /** Covers the node, pod and Service addresses: the connections teardown forgets. */
  addressRange: string;
  cniNetwork: string;
}

/** Ranges nothing else on these machines uses (the machine's own network is 192.0.2.0/24). */
export const nodeNetwork: NodeNetwork = {
  bridge: 'kubesftp0',
  nodeAddress: '10.213.0.1',
  podCidr: '10.213.0.0/24',
  serviceCidr: '10.213.128.0/24',
  apiServiceAddress: '10.213.128.1',
  addressRange: '10.213.0.0/16',
  cniNetwork: 'kubesftp-pods',
};

export function createBridge(network: NodeNetwork): void {
  const prefix = network.podCidr.split('/')[1]!;
  mustRun('ip', ['link', 'add', 'name', network.bridge, 'type', 'bridge']);
  mustRun('ip', ['addr', 'add', `${network.nodeAddress}/${prefix}`, 'dev', network.bridge]);
  mustRun('ip', ['link', 'set', network.bridge, 'up']);
}

/** Writes the CNI conflist containerd loads; host-local keeps its leases in our temp dir. */
export async function writeCniConfig(
  network: NodeNetwork,
  dirs: { confDir: string; ipamDir: string },
): Promise<void> {
  const conflist = {
    cniVersion: '1.0.0',
    name: network.cniNetwork,
    plugins: [
      {
        type: 'bridge',
        bridge: network.bridge,
        isGateway: true,
        hairpinMode: true,
        // kube-proxy masquerades what needs it; the pods only talk to the host and each other.
        ipMasq: false,
        ipam: {
          type: 'host-local',
          dataDir: dirs.ipamDir,
          ranges: [[{ subnet: network.podCidr, gateway: network.nodeAddress }]],
          routes: [{ dst: '0.0.0.0/0' }],
        },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
  await writeFile(join(dirs.confDir, '10-kubesftp.conflist'), JSON.stringify(conflist, null, 2));
}
