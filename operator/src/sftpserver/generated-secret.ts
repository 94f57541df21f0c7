/**
 * Secrets the operator generates for a server once and never writes again (host keys, the
 * master key): a restart of the operator, an upgrade or a re-applied spec keeps what clients
 * pinned and what the database was sealed with. Deleting the Secret (or the SftpServer, which
 * owns it) is the way to new contents.
 */
import { SFTP_SERVER } from '../api/group.js';
import { childMeta } from '../api/children.js';
import type { Secret, SftpServer } from '../api/objects.js';
import type { KubeClient } from '../kube/client.js';
import { isAlreadyExists, withContext } from '../kube/errors.js';
import { Resources } from '../kube/resources.js';

export interface GeneratedSecretOptions {
  client: KubeClient;
  server: SftpServer;
  name: string;
  /** The app.kubernetes.io/component label, and the name used in errors. */
  component: string;
  /** The Secret as the cache holds it; a miss may only be a lagging cache. */
  cached: Secret | undefined;
  /** Clear-text contents, made only when the Secret does not exist. */
  generate: () => Promise<Record<string, string>>;
}

async function create(options: GeneratedSecretOptions): Promise<Secret> {
  const { client, server, name, component } = options;
  const contents = await options.generate();
  const secret: Secret = {
    metadata: childMeta({
      owner: server,
      ownerKind: SFTP_SERVER.kind,
      name,
      instance: server.metadata.name,
      component,
    }),
    type: 'Opaque',
    data: Object.fromEntries(
      Object.entries(contents).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
    ),
  };
  try {
    return await client.create(Resources.secret, secret);
  } catch (err) {
    if (!isAlreadyExists(err)) throw withContext(`creating ${component} Secret ${name}`, err);
    const existing = await client.get<Secret>(Resources.secret, {
      namespace: server.metadata.namespace ?? '',
      name,
    });
    if (existing === undefined) throw withContext(`reading ${component} Secret ${name}`, err);
    return existing;
  }
}

/** The generated Secret as it is, or created now (`generated` says which). */
export async function findOrGenerateSecret(
  options: GeneratedSecretOptions,
): Promise<{ secret: Secret; generated: boolean }> {
  const known =
    options.cached ??
    (await options.client.get<Secret>(Resources.secret, {
      namespace: options.server.metadata.namespace ?? '',
      name: options.name,
    }));
  if (known !== undefined) return { secret: known, generated: false };
  return { secret: await create(options), generated: true };
}
