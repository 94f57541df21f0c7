import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import { defaultConfig } from '../config/validate.js';
import type { SessionEvents } from '../session/types.js';
import { createServerActions } from './index.js';

const base: SessionEvents = { transfer: () => undefined, command: () => undefined };

function actionsFor(executeOn: Config['sftpd']['actions']['execute_on']) {
  const config = defaultConfig();
  config.sftpd.actions = { execute_on: executeOn, command: '/bin/true', http_notification_url: '' };
  return createServerActions({ config, log: pino({ enabled: false }), registry: new Registry() });
}

test('without file hooks the session events are left as they are', async () => {
  const actions = actionsFor([]);
  assert.equal(actions.sessionEvents(base), base);
  assert.equal('fileOperationCompleted' in actions.sessionEvents(base), false);
  await actions.settle(1000);
});

test('with a file hook completed operations are reported to the actions', async () => {
  const actions = actionsFor(['upload']);
  const events = actions.sessionEvents(base);
  assert.notEqual(events, base);
  assert.equal(typeof events['fileOperationCompleted'], 'function');
  await actions.settle(1000);
});
