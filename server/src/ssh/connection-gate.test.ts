import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isKubesftpError } from '../errors.js';
import {
  ConnectionGate,
  dropsStartup,
  parseMaxStartups,
  type Admission,
  type ConnectionLimits,
  type GateDefender,
  type GateTicket,
} from './connection-gate.js';

const UNLIMITED: ConnectionLimits = {
  maxStartups: { start: 1000, rate: 100, full: 1000 },
  maxPerHost: 0,
  maxTotal: 0,
};

/** A defender double: lists and bans by address, and the events recorded. */
function fakeDefender(options: { blocked?: string[]; banned?: string[]; safe?: string[] } = {}) {
  const recorded: string[] = [];
  const defender: GateDefender = {
    isBlocked: (ip) => options.blocked?.includes(ip) ?? false,
    isSafe: (ip) => options.safe?.includes(ip) ?? false,
    isBanned: (ip) => Promise.resolve(options.banned?.includes(ip) ?? false),
    record: (ip, event) => {
      recorded.push(`${event}:${ip}`);
      return Promise.resolve(false);
    },
  };
  return { defender, recorded };
}

function ticketOf(admission: Admission): GateTicket {
  assert.ok(admission.admitted, `refused: ${admission.admitted ? '' : admission.reason}`);
  return admission.ticket;
}

function reasonOf(admission: Admission): string {
  assert.ok(!admission.admitted, 'admitted');
  return admission.reason;
}

describe('max_startups', () => {
  test('parses start:rate:full and a single number', () => {
    assert.deepEqual(parseMaxStartups('10:30:100'), { start: 10, rate: 30, full: 100 });
    assert.deepEqual(parseMaxStartups('25'), { start: 25, rate: 100, full: 25 });
  });

  test('refuses values that cannot work, naming the key', () => {
    for (const bad of [
      '',
      'x',
      '10:30',
      '10:30:100:1',
      '0',
      '50:30:10',
      '10:0:100',
      '10:101:100',
      '-1',
    ]) {
      assert.throws(
        () => parseMaxStartups(bad),
        (err) =>
          isKubesftpError(err, 'CONFIG_INVALID') && err.message.startsWith('sftpd.max_startups: '),
        bad,
      );
    }
  });

  test('the refusal chance rises from rate at start to certainty at full', () => {
    const limits = { start: 10, rate: 30, full: 100 };
    const draw = (value: number) => () => value;
    assert.equal(dropsStartup(9, limits, draw(0)), false, 'below start: never');
    assert.equal(dropsStartup(10, limits, draw(0.29)), true, '30% at start');
    assert.equal(dropsStartup(10, limits, draw(0.3)), false);
    // OpenSSH: 30 + 70 * 45 / 90 = 65%
    assert.equal(dropsStartup(55, limits, draw(0.64)), true);
    assert.equal(dropsStartup(55, limits, draw(0.65)), false);
    assert.equal(dropsStartup(100, limits, draw(0.99)), true, 'at full: always');
    assert.equal(dropsStartup(5, { start: 5, rate: 100, full: 5 }, draw(0.99)), true);
  });
});

describe('connection gate', () => {
  test('max_total_connections counts every socket until it closes', async () => {
    const gate = new ConnectionGate({ limits: { ...UNLIMITED, maxTotal: 2 } });
    const a = ticketOf(await gate.admit('192.0.2.1'));
    const b = ticketOf(await gate.admit('192.0.2.2'));
    a.loggedIn();
    assert.equal(reasonOf(await gate.admit('192.0.2.3')), 'max_total_connections');
    b.release();
    b.release();
    assert.deepEqual(gate.counts(), { total: 1, unauthenticated: 0, host: 0 });
    ticketOf(await gate.admit('192.0.2.3'));
  });

  test('max_per_host_connections bounds one address, not the others; safe ones are exempt', async () => {
    const { defender } = fakeDefender({ safe: ['10.0.0.1'] });
    const gate = new ConnectionGate({ limits: { ...UNLIMITED, maxPerHost: 2 }, defender });
    const first = ticketOf(await gate.admit('192.0.2.1'));
    ticketOf(await gate.admit('192.0.2.1')).loggedIn();
    assert.equal(reasonOf(await gate.admit('192.0.2.1')), 'max_per_host_connections');
    ticketOf(await gate.admit('192.0.2.2'));
    for (let i = 0; i < 5; i++) ticketOf(await gate.admit('10.0.0.1'));
    first.release();
    ticketOf(await gate.admit('192.0.2.1'));
    assert.equal(gate.counts('192.0.2.1').host, 2);
  });

  test('max_startups counts connections until they log in or close', async () => {
    const gate = new ConnectionGate({
      limits: { ...UNLIMITED, maxStartups: { start: 2, rate: 50, full: 4 } },
      random: () => 0.6, // above 50%, below 75%
    });
    const t1 = ticketOf(await gate.admit('192.0.2.1'));
    const t2 = ticketOf(await gate.admit('192.0.2.2'));
    ticketOf(await gate.admit('192.0.2.3')); // 2 pending: 50% < 60 drawn, admitted
    assert.equal(reasonOf(await gate.admit('192.0.2.4')), 'max_startups', '3 pending: 75%');
    t1.loggedIn();
    t2.release();
    assert.deepEqual(gate.counts(), { total: 2, unauthenticated: 1, host: 0 });
    const t4 = ticketOf(await gate.admit('192.0.2.4'));
    ticketOf(await gate.admit('192.0.2.5'));
    assert.equal(reasonOf(await gate.admit('192.0.2.6')), 'max_startups');
    t4.loggedIn();
    ticketOf(await gate.admit('192.0.2.6'));
    t1.release();
    assert.deepEqual(gate.counts(), { total: 4, unauthenticated: 3, host: 0 });
  });

  test('a refusal over the per-host bound scores the address; block list and bans do not', async () => {
    const { defender, recorded } = fakeDefender({
      blocked: ['192.0.2.66'],
      banned: ['192.0.2.77'],
    });
    const gate = new ConnectionGate({ limits: { ...UNLIMITED, maxPerHost: 1 }, defender });
    assert.equal(reasonOf(await gate.admit('192.0.2.66')), 'block_list');
    assert.equal(reasonOf(await gate.admit('192.0.2.77')), 'banned');
    ticketOf(await gate.admit('192.0.2.1'));
    assert.equal(reasonOf(await gate.admit('192.0.2.1')), 'max_per_host_connections');
    assert.deepEqual(recorded, ['limit_exceeded:192.0.2.1']);
    assert.deepEqual(gate.counts(), { total: 1, unauthenticated: 1, host: 0 });
  });

  test('refusals over the shared bounds do not score: a flood from one address cannot get another banned', async () => {
    const { defender, recorded } = fakeDefender({});
    const gate = new ConnectionGate({
      limits: { ...UNLIMITED, maxTotal: 3, maxStartups: { start: 2, rate: 100, full: 2 } },
      defender,
    });
    const first = ticketOf(await gate.admit('192.0.2.1'));
    ticketOf(await gate.admit('192.0.2.1'));
    assert.equal(reasonOf(await gate.admit('192.0.2.9')), 'max_startups');
    first.loggedIn();
    ticketOf(await gate.admit('192.0.2.1'));
    assert.equal(reasonOf(await gate.admit('192.0.2.9')), 'max_total_connections');
    assert.deepEqual(recorded, []);
  });

  test('a failing defender lets connections in and reports the error', async () => {
    const errors: unknown[] = [];
    const defender: GateDefender = {
      isBlocked: () => false,
      isSafe: () => false,
      isBanned: () => Promise.reject(new Error('database is down')),
      record: () => Promise.reject(new Error('database is down')),
    };
    const gate = new ConnectionGate({
      limits: { ...UNLIMITED, maxPerHost: 1 },
      defender,
      onDefenderError: (err) => errors.push(err),
    });
    ticketOf(await gate.admit('192.0.2.1'));
    assert.equal(reasonOf(await gate.admit('192.0.2.1')), 'max_per_host_connections');
    await new Promise((r) => setImmediate(r));
    assert.equal(errors.length, 3);
  });
});
