/**
 * The `data_provider` config section as the driver factory takes it. The server and the
 * dumpdata/loaddata commands open the provider the same way through this.
 */
import { resolveConfigPath } from '../config/paths.js';
import type { DataProviderConfig as DataProviderSection, SecretsConfig } from '../config/schema.js';
import type { DataProviderConfig } from './drivers.js';
import type { SecretKeySettings } from './secret-box.js';

/** The `secrets` config section as the secret box takes it, the key file resolved. */
export function secretKeySettings(section: SecretsConfig, configDir: string): SecretKeySettings {
  return {
    masterKeyFile: resolveConfigPath(configDir, section.master_key_file),
    masterKey: section.master_key,
  };
}

export function providerSettings(
  section: DataProviderSection,
  configDir: string,
): DataProviderConfig {
  return {
    driver: section.driver,
    name: section.name,
    configDir,
    usersTable: section.users_table,
    network: {
      host: section.host,
      port: section.port,
      username: section.username,
      password: section.password,
      sslmode: section.sslmode,
      connectionString: section.connection_string,
      poolSize: section.pool_size,
    },
  };
}
