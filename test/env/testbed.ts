/**
 * The test environment: real Kubernetes control plane, S3 server and helm, built by
 * `make testbed` (test/env/setup.sh). Tests that need one of them fail loudly when it is
 * missing; they never skip.
 */
export {
  readPinnedVersions,
  repoRoot,
  testbedBinary,
  testbedCacheDir,
  type TestbedBinary,
} from './binaries.js';
export { startKubernetes, type KubernetesEnv, type StartKubernetesOptions } from './kubernetes.js';
export { s3ClientFor, startS3, type S3Env, type StartS3Options } from './s3.js';
export { startPostgres, type PostgresEnv, type StartPostgresOptions } from './postgres.js';
export { startMariadb, type MariadbEnv, type StartMariadbOptions } from './mariadb.js';
