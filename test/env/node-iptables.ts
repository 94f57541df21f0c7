/**
 * The packet-filter chains the node leaves behind: kube-proxy's and the kubelet's KUBE-* and
 * the portmap plugin's CNI-*. kube-proxy --cleanup removes most of them; this removes the rest
 * (the kubelet's canary chains, anything a killed run left), touching only chains that were
 * not there before the node started and the rules that jump to them. With the nf_tables
 * backend, listing or changing a table creates it in the kernel; the tables the node brought
 * into being are deleted again once they hold no rule.
 */
import { runSync } from './host.js';

const tools = ['iptables', 'ip6tables'] as const;
type Tool = (typeof tools)[number];
const tables = ['filter', 'nat', 'mangle', 'raw'];
const nodeChain = /^(KUBE|CNI)-/;

/** "iptables:nat:KUBE-SERVICES" for every node chain present now. */
export function nodeChains(): string[] {
  return tools.flatMap((tool) =>
    tables.flatMap((table) =>
      chainsOf(tool, table)
        .filter((chain) => nodeChain.test(chain))
        .map((chain) => `${tool}:${table}:${chain}`),
    ),
  );
}

function rulesOf(tool: Tool, table: string): string[] {
  const result = runSync(tool, ['-w', '5', '-t', table, '-S']);
  return result.ok ? result.stdout.split('\n').filter((line) => line !== '') : [];
}

function chainsOf(tool: Tool, table: string): string[] {
  return rulesOf(tool, table)
    .filter((line) => line.startsWith('-N '))
    .map((line) => line.slice(3));
}

/** Removes the node chains not in `before`; returns the ones that stayed. */
export function removeNodeChains(before: readonly string[]): string[] {
  const kept = new Set(before);
  const doomed = nodeChains().filter((chain) => !kept.has(chain));
  for (const tool of tools) {
    for (const table of tables) {
      const chains = doomed
        .filter((chain) => chain.startsWith(`${tool}:${table}:`))
        .map((chain) => chain.split(':')[2]!);
      if (chains.length > 0) removeChains(tool, table, new Set(chains));
    }
  }
  const left = new Set(nodeChains());
  return doomed.filter((chain) => left.has(chain));
}

function removeChains(tool: Tool, table: string, chains: Set<string>): void {
  for (const rule of rulesOf(tool, table)) {
    const words = splitRule(rule);
    const target = words[words.findIndex((word) => word === '-j' || word === '-g') + 1];
    if (words[0] === '-A' && target !== undefined && chains.has(target)) {
      runSync(tool, ['-w', '5', '-t', table, '-D', ...words.slice(1)]);
    }
  }
  for (const chain of chains) runSync(tool, ['-w', '5', '-t', table, '-F', chain]);
  for (const chain of chains) runSync(tool, ['-w', '5', '-t', table, '-X', chain]);
}

/** Splits a rule as iptables -S prints it: words, with "double quoted" comments. */
export function splitRule(rule: string): string[] {
  const words: string[] = [];
  for (const match of rule.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) {
    words.push(match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : match[2]!);
  }
  return words;
}

/** "iptables:nat" for every table present now (iptables-save prints only those). */
export function presentTables(): string[] {
  return tools.flatMap((tool) => {
    const result = runSync(`${tool}-save`, []);
    if (!result.ok) return [];
    return [...result.stdout.matchAll(/^\*(\w+)$/gm)].map((match) => `${tool}:${match[1]!}`);
  });
}

/** Deletes the tables not in `before` that hold no rule; returns those that stayed. */
export function removeEmptyTables(before: readonly string[]): string[] {
  if (!runSync('iptables', ['--version']).stdout.includes('nf_tables')) return [];
  const kept = new Set(before);
  const stayed: string[] = [];
  for (const table of presentTables().filter((present) => !kept.has(present))) {
    const [tool, name] = table.split(':') as [Tool, string];
    const hasRules = rulesOf(tool, name).some((line) => !line.startsWith('-P '));
    const family = tool === 'iptables' ? 'ip' : 'ip6';
    if (hasRules || !runSync('nft', ['delete', 'table', family, name]).ok) stayed.push(table);
  }
  return stayed;
}
