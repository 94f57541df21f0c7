/**
 * `kubesftp dumpdata` and `kubesftp loaddata`: every user and admin of the configured provider
 * to a JSON file, and back into any provider. Moving a SQLite install to PostgreSQL is a dump
 * with the old config and a load with the new one.
 */
import { open, readFile } from 'node:fs/promises';
import { loadConfig } from '../config/load.js';
import { dumpProvider, loadDump, parseDump, type LoadMode } from '../dataprovider/dump.js';
import { providerSettings, secretKeySettings } from '../dataprovider/from-config.js';
import { createDataProvider } from '../dataprovider/index.js';
import type { DataProvider } from '../dataprovider/types.js';
import { PRIVATE_FILE_MODE } from '../private-files.js';

export interface DataCommandOptions {
  configDir: string;
  configFile: string;
  /** The dump file: written by dumpdata, read by loaddata. */
  file: string;
  /** loaddata only: what happens to an account that already exists. */
  mode?: LoadMode;
  /** Where the one-line summary goes. */
  report: (text: string) => void;
}

async function withProvider<T>(
  options: DataCommandOptions,
  work: (provider: DataProvider) => Promise<T>,
): Promise<T> {
  const loaded = await loadConfig({ configDir: options.configDir, configFile: options.configFile });
  const provider = await createDataProvider(
    providerSettings(loaded.config.data_provider, loaded.configDir),
    secretKeySettings(loaded.config.secrets, loaded.configDir),
  );
  try {
    await provider.initialize();
    return await work(provider);
  } finally {
    await provider.close();
  }
}

/** The dump holds password hashes: the file is created private and never overwritten. */
async function writePrivateFile(path: string, text: string): Promise<void> {
  const handle = await open(path, 'wx', PRIVATE_FILE_MODE);
  try {
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
}

export async function runDumpData(options: DataCommandOptions): Promise<void> {
  const dump = await withProvider(options, dumpProvider);
  await writePrivateFile(options.file, `${JSON.stringify(dump, null, 2)}\n`);
  options.report(
    `dumped ${dump.users.length} users and ${dump.admins.length} admins to ${options.file}\n`,
  );
}

export async function runLoadData(options: DataCommandOptions): Promise<void> {
  const dump = parseDump(await readFile(options.file, 'utf8'), options.file);
  const mode = options.mode ?? 'skip';
  const { users, admins } = await withProvider(options, (provider) =>
    loadDump(provider, dump, mode),
  );
  options.report(
    `loaded ${options.file}: users ${users.added} added, ${users.replaced} replaced, ${users.skipped} skipped; ` +
      `admins ${admins.added} added, ${admins.replaced} replaced, ${admins.skipped} skipped\n`,
  );
}
