/**
 * The operator killed in the middle of its work, on the real API server and PostgreSQL of the
 * test bed. Many SftpUsers are applied (server-side apply, as a GitOps tool does); the operator
 * is killed with SIGKILL once some but not all of them are Ready, and the state it left is
 * checked to be half-done (users holding the finalizer, a Secret or an account but not Ready).
 * A new process with the same identity (a container restarted in its pod) takes the Lease back
 * without waiting for it to expire and finishes the work: every user Ready, every account in
 * PostgreSQL with a hash of the password its Secret holds, one Secret per user and nothing
 * orphaned; and the same objects applied again change nothing, through two resyncs.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import pg from 'pg';
import { KubeClient } from '../../operator/src/kube/client.js';
import { Resources } from '../../operator/src/kube/resources.js';
import type { Secret, SftpUser } from '../../operator/src/api/objects.js';
import { verifyPassword } from '../../server/src/auth/passwords.js';
import {
  startKubernetes,
  startPostgres,
  type KubernetesEnv,
  type PostgresEnv,
} from '../env/testbed.js';
import { waitFor } from '../testbed/wait.js';
import {
  deploymentGeneration,
  forEachUser,
  isReady,
  prepareNamespace,
  reportServerReady,
  serverYaml,
  userObject,
} from './many-users.js';
import { operatorWrites, spawnOperator, type OperatorProcess } from './operator-process.js';

const NAMESPACE = 'restart';
const LEASE_NAMESPACE = 'kubesftp-system';
const USERS = 300;
const RESYNC_SECONDS = 4;
/** The operator's lease duration: a process that had to wait for expiry would take this long. */
const LEASE_DURATION_MS = 15_000;
const IDENTITY = 'kubesftp-operator-7d9f8-abcde';
const FINALIZER = 'kubesftp.io/account';

const userName = (i: number): string => `r${String(i).padStart(4, '0')}`;
const names = Array.from({ length: USERS }, (_, i) => userName(i));

const decode = (secret: Secret, key: string): string =>
  Buffer.from(secret.data?.[key] ?? '', 'base64').toString('utf8');

interface Row {
  username: string;
  password: string;
  managed_by: string;
}

void describe('the operator killed mid-reconcile', { timeout: 600_000 }, () => {
  let kube: KubernetesEnv;
  let postgres: PostgresEnv;
  let databaseUrl: string;
  /** Applies objects as a GitOps tool does: server-side apply with a field manager of its own. */
  let gitops: KubeClient;
  let operator: OperatorProcess | undefined;

  const start = (): OperatorProcess =>
    spawnOperator({
      kubeconfig: kube.kubeconfigPath,
      defaultImage: 'kubesftp.test/kubesftp:restart-test',
      leaderElectionNamespace: LEASE_NAMESPACE,
      resyncSeconds: RESYNC_SECONDS,
      hashIterations: 10_000,
      identity: IDENTITY,
    });
  const users = async (): Promise<SftpUser[]> =>
    (await gitops.list<SftpUser>(Resources.sftpUser, { namespace: NAMESPACE })).items;
  const secrets = async (): Promise<Secret[]> =>
    (await gitops.list<Secret>(Resources.secret, { namespace: NAMESPACE })).items;
  const rows = async (): Promise<Row[]> => {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const result = await client.query<Row>(
        'SELECT username, password, managed_by FROM users ORDER BY username',
      );
      return result.rows;
    } finally {
      await client.end();
    }
  };
  const applyAll = (): Promise<void> =>
    forEachUser(names, 16, (name) => gitops.apply(Resources.sftpUser, userObject(NAMESPACE, name)));

  before(async () => {
    [kube, postgres] = await Promise.all([startKubernetes(), startPostgres()]);
    databaseUrl = postgres.url(await postgres.createDatabase('restart'));
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(kube.kubeconfigPath);
    gitops = new KubeClient({ kubeConfig, fieldManager: 'gitops' });
  });

  after(async () => {
    if (operator !== undefined && process.exitCode)
      process.stderr.write(`${operator.logs.slice(-60).join('\n')}\n`);
    await operator?.stop();
    gitops?.close();
    await Promise.all([kube?.stop(), postgres?.stop()]);
  });

  void it('has a Ready SftpServer to put users on', async () => {
    await prepareNamespace(kube, NAMESPACE, databaseUrl);
    await kube.kubectl(['create', 'namespace', LEASE_NAMESPACE]);
    operator = start();
    await operator.running();
    await kube.kubectl(['apply', '-f', '-'], { input: serverYaml(NAMESPACE) });
    await reportServerReady(kube, NAMESPACE, await deploymentGeneration(kube, NAMESPACE));
  });

  void it('is killed while it reconciles, leaving users half done', async () => {
    const killed = applyAll().then(() => 'applied' as const);
    await waitFor(
      `a tenth of the ${USERS} users Ready`,
      async () => ((await users()).filter(isReady).length >= USERS / 10 ? true : undefined),
      120_000,
    );
    await operator!.stop('SIGKILL');
    await killed;
    // What the killed process left, read after it is gone: nothing changes it any more.
    const left = await users();
    const credentials = new Set((await secrets()).map((secret) => secret.metadata.name));
    const accounts = new Set((await rows()).map((row) => row.username));
    const ready = left.filter(isReady);
    const halfDone = left.filter(
      (user) =>
        !isReady(user) &&
        (user.metadata.finalizers?.includes(FINALIZER) === true ||
          credentials.has(`${user.metadata.name}-credentials`) ||
          accounts.has(user.metadata.name)),
    );
    process.stderr.write(
      `killed with ${ready.length}/${USERS} Ready, ${halfDone.length} half done, ` +
        `${accounts.size} accounts, ${credentials.size} Secrets\n`,
    );
    assert.equal(left.length, USERS);
    assert.ok(ready.length > 0 && ready.length < USERS, `${ready.length} Ready: not mid-work`);
    assert.ok(halfDone.length > 0, 'some reconcile was cut between its steps');
  });

  void it('converges after a restart that takes the Lease back at once', async () => {
    const restartedAt = Date.now();
    operator = start();
    await waitFor('the new process to lead', () =>
      operator!.logs.some((line) => line.includes('became the leader')) ? true : undefined,
    );
    const tookOverMs = Date.now() - restartedAt;
    process.stderr.write(`the restarted process led after ${tookOverMs} ms\n`);
    assert.ok(
      tookOverMs < LEASE_DURATION_MS,
      `took ${tookOverMs} ms: it waited for the lease to expire`,
    );
    const lease = JSON.parse(
      await kube.kubectl([
        'get',
        'lease',
        'kubesftp-operator',
        '-n',
        LEASE_NAMESPACE,
        '-o',
        'json',
      ]),
    ) as { spec: { holderIdentity: string; renewTime: string } };
    assert.equal(lease.spec.holderIdentity, IDENTITY);
    assert.ok(Date.parse(lease.spec.renewTime) >= restartedAt - 1000, 'the lease was renewed');
    await operator.running();
    await waitFor(
      `all ${USERS} users Ready`,
      async () => ((await users()).filter(isReady).length === USERS ? true : undefined),
      300_000,
    );
  });

  void it('left every account right, one Secret per user and nothing orphaned', async () => {
    const all = await users();
    const byName = new Map(all.map((user) => [user.metadata.name, user]));
    const byUid = new Map(all.map((user) => [user.metadata.uid, user]));
    const credentials = new Map<string, Secret>();
    for (const secret of await secrets()) {
      const name = secret.metadata.name;
      const owner = secret.metadata.ownerReferences?.find((ref) => ref.controller === true);
      // The database Secret is the test's; the host keys and the master key are the server's.
      if (name === 'files-db' || owner?.kind === 'SftpServer') continue;
      const user = owner === undefined ? undefined : byUid.get(owner.uid);
      assert.ok(user !== undefined, `Secret ${name} is owned by no SftpUser: orphaned`);
      assert.equal(name, `${user.metadata.name}-credentials`);
      credentials.set(user.metadata.name, secret);
    }
    assert.equal(credentials.size, USERS, 'one credentials Secret per user');
    const accounts = await rows();
    assert.deepEqual(
      accounts.map((row) => row.username),
      [...names].sort(),
      'one account per user, no other',
    );
    for (const row of accounts) {
      const user = byName.get(row.username)!;
      const secret = credentials.get(row.username)!;
      assert.equal(row.managed_by, `${NAMESPACE}/${row.username}`);
      assert.deepEqual(user.metadata.finalizers, [FINALIZER]);
      assert.equal(user.status?.observedGeneration, user.metadata.generation);
      assert.equal(
        user.status?.appliedSecrets?.[secret.metadata.name],
        secret.metadata.resourceVersion,
        `${row.username}: the status names the Secret version applied`,
      );
      assert.equal(
        user.status?.passwordHashDigest,
        createHash('sha256').update(row.password).digest('hex'),
        `${row.username}: the status names the stored hash`,
      );
      assert.equal(decode(secret, 'username'), row.username);
      assert.ok(
        await verifyPassword(decode(secret, 'password'), row.password),
        `${row.username}: the Secret's password matches the stored hash`,
      );
    }
    const events = JSON.parse(
      await kube.kubectl([
        'get',
        'events',
        '-n',
        NAMESPACE,
        '--field-selector',
        'type=Warning',
        '-o',
        'json',
      ]),
    ) as { items: Array<{ reason: string; message: string; involvedObject: { kind: string } }> };
    // Only the operator's resources: the API server's own controllers may warn about the
    // cluster's objects (a Service's cluster IP being repaired, say) at any time.
    const operatorWarnings = events.items.filter((event) =>
      ['SftpUser', 'SftpServer'].includes(event.involvedObject.kind),
    );
    assert.deepEqual(
      operatorWarnings.map((event) => `${event.reason}: ${event.message}`),
      [],
      'no Warning events about SftpUsers or SftpServers',
    );
  });

  void it('applied again, writes nothing through two resyncs', async () => {
    const snapshot = async (): Promise<unknown> => ({
      users: (await users()).map((u) => `${u.metadata.name}@${u.metadata.resourceVersion}`),
      secrets: (await secrets()).map((s) => `${s.metadata.name}@${s.metadata.resourceVersion}`),
      rows: await rows(),
    });
    const port = operator!.metricsPort();
    // Let the restarted process drain its first full pass before taking the baseline.
    await sleep(RESYNC_SECONDS * 1000);
    const [first, firstWrites] = [await snapshot(), await operatorWrites(port)];
    await applyAll();
    await sleep((RESYNC_SECONDS * 2 + 2) * 1000);
    assert.deepEqual(await snapshot(), first);
    assert.equal(await operatorWrites(port), firstWrites, 'the operator made no write request');
  });
});
