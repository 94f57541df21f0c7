/**
 * Undoes everything a node record lists, synchronously and idempotently: after a normal stop,
 * from an 'exit' or signal handler, and on the next start after a killed run. Each step goes on
 * when one before it failed; what could not be undone comes back as a list of problems.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  killPids,
  killRecorded,
  pidsInCgroupTree,
  pidsWithArguments,
  removeCgroupTree,
  restoreSysctls,
  runSync,
  sleepSync,
  unmountAllUnder,
  mountsUnder,
} from './host.js';
import { removeEmptyTables, removeNodeChains } from './node-iptables.js';
import type { NodeRecord } from './node-state.js';

export function cleanUpNode(record: NodeRecord): string[] {
  const problems: string[] = [];
  const step = (what: string, undo: () => string[]): void => {
    try {
      problems.push(...undo().map((left) => `${what}: ${left}`));
    } catch (err) {
      problems.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  step('processes', () => killEverything(record));
  step('kube-proxy --cleanup', () => kubeProxyCleanup(record));
  step('iptables chains left', () => removeNodeChains(record.chainsBefore));
  step('iptables tables left', () => removeEmptyTables(record.tablesBefore));
  step('mounts left', () => unmountAllUnder([record.dir, ...record.createdPaths]));
  step('network', () => removeBridge(record.bridge));
  step('conntrack', () => forgetConnections(record.addressRange));
  step('cgroups left', () => record.createdCgroups.flatMap(removeCgroupTree));
  step('sysctls not restored', () => restoreSysctls(record.sysctls));
  step('files', () => removeFiles(record));
  return problems;
}

/**
 * The bed's own processes, then every container process, every shim of its containerd and
 * every client still pointed at its kubeconfig.
 */
function killEverything(record: NodeRecord): string[] {
  for (const recorded of record.processes) killRecorded(recorded);
  const containerPids = (): number[] => [
    ...record.createdCgroups.flatMap(pidsInCgroupTree),
    ...(record.containerdAddress ? pidsWithArguments(['-address', record.containerdAddress]) : []),
    // Clients a killed test left running against the bed (kubectl waits, log follows).
    ...pidsWithArguments([join(record.dir, 'kubeconfig')]),
  ];
  for (let attempt = 0; attempt < 50; attempt++) {
    const pids = containerPids();
    if (pids.length === 0) return [];
    killPids(pids);
    sleepSync(100);
  }
  return containerPids().map((pid) => `pid ${pid} survived SIGKILL`);
}

/** kube-proxy's own undo of its rules; the chain step after it checks and finishes the job. */
function kubeProxyCleanup(record: NodeRecord): string[] {
  if (record.kubeProxyBinary === undefined || !existsSync(record.kubeProxyBinary)) return [];
  runSync(record.kubeProxyBinary, ['--cleanup'], 60_000);
  return [];
}

/** The bridge and any veth still attached to it (normally gone with their netns). */
function removeBridge(bridge: string): string[] {
  if (!existsSync(`/sys/class/net/${bridge}`)) return [];
  const brif = `/sys/class/net/${bridge}/brif`;
  for (const port of existsSync(brif) ? readdirSync(brif) : [])
    runSync('ip', ['link', 'del', port]);
  const result = runSync('ip', ['link', 'del', bridge]);
  return result.ok ? [] : [`bridge ${bridge}: ${result.stderr.trim()}`];
}

/** Tracked connections of the gone network (TIME_WAIT, NAT mappings) would linger minutes. */
function forgetConnections(range: string): string[] {
  for (const direction of ['--orig-src', '--orig-dst']) {
    runSync('conntrack', ['-D', direction, range]);
  }
  return [];
}

/** The temp dir (only with nothing mounted below it) and the machine paths the node created. */
function removeFiles(record: NodeRecord): string[] {
  const problems: string[] = [];
  for (const path of [record.dir, ...record.createdPaths]) {
    // rm -rf through a bind mount would delete the files of whatever is mounted there.
    const mounted = mountsUnder([path]);
    if (mounted.length > 0) {
      problems.push(`${path} kept: ${mounted.join(', ')} still mounted`);
      continue;
    }
    rmSync(path, { recursive: true, force: true });
  }
  removeCniCache(record.cniNetwork);
  return problems;
}

/**
 * libcni caches results under /var/lib/cni/results as <network>-<sandbox>-<interface>, also
 * for the loopback network containerd adds; when the dir was there before, only the entries of
 * our network's sandboxes go.
 */
function removeCniCache(network: string): void {
  const results = '/var/lib/cni/results';
  if (!existsSync(results)) return;
  const entries = readdirSync(results);
  const sandboxes = entries
    .filter((entry) => entry.startsWith(`${network}-`))
    .map((entry) => entry.slice(network.length + 1).split('-')[0]!);
  for (const entry of entries) {
    if (sandboxes.some((sandbox) => entry.includes(`-${sandbox}-`))) {
      rmSync(join(results, entry), { force: true });
    }
  }
}
