import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import Fastify from 'fastify';
import { httpLogRecord } from './http.js';
import { createLogger } from './logger.js';

test('an onResponse hook writes one http line with the spec fields', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kubesftp-httplog-'));
  try {
    const filePath = path.join(dir, 'http.log');
    const logger = createLogger({
      filePath,
      maxSizeMB: 10,
      maxBackups: 1,
      maxAgeDays: 1,
      compress: false,
      verbose: false,
    });
    const app = Fastify({ logger: false });
    app.addHook('onResponse', async (request, reply) =>
      logger.logHttp(httpLogRecord(request, reply)),
    );
    app.get('/api/v1/version', () => ({ version: '1' }));
    const response = await app.inject({
      method: 'GET',
      url: '/api/v1/version?x=1',
      headers: { 'user-agent': 'kubesftp-test', authorization: 'Bearer secret-token' },
    });
    await app.close();
    await logger.close();
    const text = await readFile(filePath, 'utf8');
    assert.ok(!text.includes('secret-token'));
    const line = JSON.parse(text.trim()) as Record<string, unknown>;
    assert.equal(line.sender, 'httpd');
    assert.equal(line.method, 'GET');
    assert.equal(line.uri, '/api/v1/version?x=1');
    assert.equal(line.user_agent, 'kubesftp-test');
    assert.equal(line.resp_status, 200);
    assert.equal(line.resp_size, Buffer.byteLength(response.body));
    assert.equal(line.proto, 'HTTP/1.1');
    assert.match(String(line.remote_addr), /^127\.0\.0\.1(:\d+)?$/);
    assert.equal(typeof line.elapsed_ms, 'number');
    assert.equal(line.request_id, response.headers['request-id'] ?? line.request_id);
    assert.ok(String(line.request_id).length > 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
