/**
 * A small client for the Kubernetes API: JSON in and out, exactly as the API server speaks it.
 * Credentials come from client-node's KubeConfig (kubeconfig file or in-cluster service
 * account; tokens re-read as they rotate); connections are kept alive. Writes are
 * server-side apply with one field manager, JSON patches with test operations, creates and
 * deletes; there is no merge patch of whole lists anywhere. Each request is reported to an
 * observer, which the metrics count.
 */
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import type { KubeObject } from '../api/objects.js';
import { ApiError } from './errors.js';
import { resourcePath, type ResourcePath, type ResourceType } from './resources.js';

export interface RequestInfo {
  verb: string;
  resource: string;
  /** HTTP status; 0 when no response came. */
  status: number;
  ms: number;
}

export interface KubeClientOptions {
  kubeConfig: KubeConfig;
  fieldManager: string;
  /** Told of every request once it ends. */
  observe?: (info: RequestInfo) => void;
  /** Per-request timeout (default 30 s). */
  timeoutMs?: number;
}

export interface RawRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | undefined>;
  body?: unknown;
  contentType?: string;
  /** The resource and verb the metrics name the request by. */
  resource: string;
  verb: string;
}

export interface ObjectList<T> {
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

export interface ListOptions {
  namespace?: string | undefined;
  labelSelector?: string | undefined;
}

export type JsonPatchOperation =
  { op: 'test' | 'add' | 'replace'; path: string; value: unknown } | { op: 'remove'; path: string };

interface Response {
  status: number;
  body: string;
}

interface Transport {
  module: typeof https | typeof http;
  agent: http.Agent;
}

const KEEP_ALIVE = { keepAlive: true, maxSockets: 32 };

function statusMessage(status: number, text: string): { message: string; reason?: string } {
  try {
    const parsed = JSON.parse(text) as { message?: string; reason?: string };
    return { message: parsed.message ?? `HTTP ${status}`, reason: parsed.reason };
  } catch {
    return { message: `HTTP ${status}: ${text.slice(0, 200)}` };
  }
}

export class KubeClient {
  readonly #kc: KubeConfig;
  readonly #fieldManager: string;
  readonly #observe: ((info: RequestInfo) => void) | undefined;
  readonly #timeoutMs: number;
  #transport: { key: string; value: Transport } | undefined;

  constructor(options: KubeClientOptions) {
    this.#kc = options.kubeConfig;
    this.#fieldManager = options.fieldManager;
    this.#observe = options.observe;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  get fieldManager(): string {
    return this.#fieldManager;
  }

  /** One request; resolves with the parsed body, rejects with ApiError. */
  async request<T>(request: RawRequest): Promise<T> {
    const started = Date.now();
    let status = 0;
    try {
      const response = await this.#send(request);
      status = response.status;
      if (status >= 400) {
        const { message, reason } = statusMessage(status, response.body);
        throw new ApiError({ message, status, ...(reason === undefined ? {} : { reason }) });
      }
      return (response.body === '' ? undefined : JSON.parse(response.body)) as T;
    } catch (err) {
      if (err instanceof ApiError) throw err;
      const message = err instanceof Error ? err.message : String(err);
      throw new ApiError({ message, status: 0, cause: err });
    } finally {
      this.#observe?.({
        verb: request.verb,
        resource: request.resource,
        status,
        ms: Date.now() - started,
      });
    }
  }

  async get<T extends KubeObject>(
    type: ResourceType,
    where: { namespace?: string; name: string },
  ): Promise<T | undefined> {
    try {
      return await this.request<T>({
        method: 'GET',
        path: resourcePath(type, where),
        resource: type.plural,
        verb: 'get',
      });
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  async list<T extends KubeObject>(
    type: ResourceType,
    options: ListOptions = {},
  ): Promise<ObjectList<T>> {
    return this.request<ObjectList<T>>({
      method: 'GET',
      path: resourcePath(type, { namespace: options.namespace }),
      query: { labelSelector: options.labelSelector },
      resource: type.plural,
      verb: 'list',
    });
  }

  async create<T extends KubeObject>(type: ResourceType, object: T): Promise<T> {
    return this.request<T>({
      method: 'POST',
      path: resourcePath(type, { namespace: object.metadata.namespace }),
      query: { fieldManager: this.#fieldManager },
      body: { apiVersion: type.apiVersion, kind: type.kind, ...object },
      resource: type.plural,
      verb: 'create',
    });
  }

  /**
   * Server-side apply of `object` (it must name every field this manager owns; fields left out
   * are given up). Forced: the operator is the authority on what it applies.
   */
  async apply<T extends KubeObject>(
    type: ResourceType,
    object: T,
    where: { subresource?: 'status' } = {},
  ): Promise<T> {
    const { namespace, name } = object.metadata;
    return this.request<T>({
      method: 'PATCH',
      path: resourcePath(type, { namespace, name, subresource: where.subresource }),
      query: { fieldManager: this.#fieldManager, force: 'true' },
      body: { apiVersion: type.apiVersion, kind: type.kind, ...object },
      contentType: 'application/apply-patch+yaml',
      resource: where.subresource === undefined ? type.plural : `${type.plural}/status`,
      verb: 'apply',
    });
  }

  /** A JSON patch; test operations make it fail rather than overwrite a change it did not see. */
  async jsonPatch<T extends KubeObject>(
    type: ResourceType,
    where: ResourcePath & { name: string },
    operations: JsonPatchOperation[],
  ): Promise<T> {
    return this.request<T>({
      method: 'PATCH',
      path: resourcePath(type, where),
      query: { fieldManager: this.#fieldManager },
      body: operations,
      contentType: 'application/json-patch+json',
      resource: type.plural,
      verb: 'patch',
    });
  }

  /** Deletes an object; resolves false when it was already gone. `uid` guards against a namesake. */
  async delete(
    type: ResourceType,
    where: { namespace?: string; name: string; uid?: string },
  ): Promise<boolean> {
    try {
      await this.request({
        method: 'DELETE',
        path: resourcePath(type, where),
        body: {
          kind: 'DeleteOptions',
          apiVersion: 'v1',
          propagationPolicy: 'Background',
          ...(where.uid === undefined ? {} : { preconditions: { uid: where.uid } }),
        },
        resource: type.plural,
        verb: 'delete',
      });
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return false;
      throw err;
    }
  }

  /** Whether the API server serves a group version (e.g. monitoring.coreos.com/v1). */
  async servesGroupVersion(apiVersion: string): Promise<boolean> {
    try {
      await this.request({
        method: 'GET',
        path: `/apis/${apiVersion}`,
        resource: 'discovery',
        verb: 'get',
      });
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return false;
      throw err;
    }
  }

  async #send(request: RawRequest): Promise<Response> {
    const options: https.RequestOptions = {};
    await this.#kc.applyToHTTPSOptions(options);
    const server = this.#kc.getCurrentCluster()?.server;
    if (server === undefined) throw new Error('the kubeconfig names no cluster');
    const url = new URL(server.replace(/\/$/, '') + request.path);
    for (const [key, value] of Object.entries(request.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, value);
    }
    const transport = this.#transportFor(url, options);
    const body = request.body === undefined ? undefined : JSON.stringify(request.body);
    const headers: http.OutgoingHttpHeaders = {
      ...(options.headers as http.OutgoingHttpHeaders | undefined),
      accept: 'application/json',
      'user-agent': 'kubesftp-operator',
      ...(body === undefined
        ? {}
        : {
            'content-type': request.contentType ?? 'application/json',
            'content-length': Buffer.byteLength(body),
          }),
    };
    return new Promise<Response>((resolve, reject) => {
      const req = transport.module.request(
        url,
        {
          method: request.method,
          headers,
          agent: transport.agent,
          ...(options.auth ? { auth: options.auth } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.setTimeout(this.#timeoutMs, () =>
        req.destroy(new Error(`timed out after ${this.#timeoutMs} ms`)),
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** One keep-alive agent per set of TLS credentials; a rotated client certificate gets a new one. */
  #transportFor(url: URL, options: https.RequestOptions): Transport {
    const key = JSON.stringify([
      url.protocol,
      options.ca,
      options.cert,
      options.key,
      options.rejectUnauthorized,
    ]);
    if (this.#transport?.key === key) return this.#transport.value;
    this.#transport?.value.agent.destroy();
    const value: Transport =
      url.protocol === 'http:'
        ? { module: http, agent: new http.Agent(KEEP_ALIVE) }
        : {
            module: https,
            agent: new https.Agent({
              ...KEEP_ALIVE,
              ca: options.ca,
              cert: options.cert,
              key: options.key,
              ...(options.rejectUnauthorized === undefined
                ? {}
                : { rejectUnauthorized: options.rejectUnauthorized }),
              ...(options.servername === undefined ? {} : { servername: options.servername }),
            }),
          };
    this.#transport = { key, value };
    return value;
  }

  /** Closes kept-alive connections. */
  close(): void {
    this.#transport?.value.agent.destroy();
    this.#transport = undefined;
  }
}
