import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { KubeClient } from './client.js';
import { KubeEventRecorder } from './events.js';

function recorder(burst: number): { recorder: KubeEventRecorder; created: string[] } {
  const created: string[] = [];
  const client = {
    create: (_type: unknown, event: { reason: string; involvedObject: { name: string } }) => {
      created.push(`${event.reason}/${event.involvedObject.name}`);
      return Promise.resolve(event);
    },
  } as unknown as KubeClient;
  return {
    created,
    recorder: new KubeEventRecorder({
      client,
      component: 'test',
      logger: pino({ level: 'silent' }),
      normalBudget: { burst, perSecond: 0 },
    }),
  };
}

const user = (name: string) => ({ metadata: { name, namespace: 'apps', uid: name } });

describe('KubeEventRecorder', () => {
  it('records Normal events up to the budget and every Warning', async () => {
    const { recorder: events, created } = recorder(3);
    for (let i = 0; i < 10; i++) {
      events.record({
        object: user(`u${i}`),
        type: 'Normal',
        reason: 'AccountCreated',
        message: 'x',
      });
    }
    events.record({ object: user('u9'), type: 'Warning', reason: 'UsernameTaken', message: 'y' });
    await events.flush();
    assert.deepEqual(created, [
      'AccountCreated/u0',
      'AccountCreated/u1',
      'AccountCreated/u2',
      'UsernameTaken/u9',
    ]);
  });

  it('records the same event for the same object once per window', async () => {
    const { recorder: events, created } = recorder(10);
    for (let i = 0; i < 3; i++) {
      events.record({ object: user('u0'), type: 'Warning', reason: 'SecretMissing', message: 'z' });
    }
    await events.flush();
    assert.deepEqual(created, ['SecretMissing/u0']);
  });
});
