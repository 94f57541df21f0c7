/**
 * Builds the configured data provider for the server: the driver, behind the password
 * hashing that every write goes through. Callers then run `initialize()` once at start.
 */
import { openDriver, type DataProviderConfig } from './drivers.js';
import { hashingPasswords } from './hashing.js';
import type { SecretKeySettings } from './secret-box.js';
import type { DataProvider } from './types.js';

export { validateUser } from './validate.js';
export type { DataProviderConfig } from './drivers.js';
export type * from './types.js';
export { secretBoxFor, type SecretBox, type SecretKeySettings } from './secret-box.js';

export async function createDataProvider(
  cfg: DataProviderConfig,
  secrets?: SecretKeySettings,
): Promise<DataProvider> {
  return hashingPasswords(await openDriver(cfg), secrets);
}
