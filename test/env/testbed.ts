/**
 * The test environment: a real Kubernetes control plane (with a node that runs pods, on
 * request), S3 server, helm and container images, built by
 * `make testbed` (test/env/setup.sh). Tests that need one of them fail loudly when it is
 * missing; they never skip.
 */
export {
  pauseImage,
  readPinnedVersions,
  repoRoot,
  testbedBinary,
  testbedBundle,
  testbedCacheDir,
  type TestbedBinary,
  type TestbedBundle,
} from './binaries.js';
export { startKubernetes, type KubernetesEnv, type StartKubernetesOptions } from './kubernetes.js';
export type { KubernetesNode } from './node.js';
export { s3ClientFor, startS3, type S3Env, type StartS3Options } from './s3.js';
export { startPostgres, type PostgresEnv, type StartPostgresOptions } from './postgres.js';
export { startMariadb, type MariadbEnv, type StartMariadbOptions } from './mariadb.js';
export { buildKubesftpImage, type ImageTarball } from './image.js';
