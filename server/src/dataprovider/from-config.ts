/**
 * The `data_provider` config section as the driver factory takes it. The server and the
 * dumpdata/loaddata commands open the provider the same way through this.
 */
import type { DataProviderConfig as DataProviderSection } from '../config/schema.js';
import type { DataProviderConfig } from './drivers.js';

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
