/**
 * Custom actions: a program and/or an HTTP notification run after file operations and SSH
 * commands (sftpd.actions) and after account changes (data_provider.actions). Built once in
 * the service and attached where events happen: the session events and the data provider.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { DataProvider } from '../dataprovider/types.js';
import type { SessionEvents } from '../session/types.js';
import type { ActionCall, FileActionEvent } from './calls.js';
import { ActionQueue } from './queue.js';
import { ActionRunner, registerActionMetrics, type ActionSection } from './runner.js';
import { withUserActions } from './user-provider.js';

/**
 * The builders of hook arguments, loaded when the first configured action fires: they hold the
 * account reply schema, which a server without actions never needs.
 */
type CallBuilders = typeof import('./calls.js');
let callBuilders: Promise<CallBuilders> | undefined;
const loadCallBuilders = (): Promise<CallBuilders> => (callBuilders ??= import('./calls.js'));

/** Hooks running at once per section; more wait in the queue. */
export const ACTION_CONCURRENCY = 8;
/** Hooks waiting per section; past this a hook is dropped (counted and logged), never waited for. */
export const ACTION_QUEUE_CAPACITY = 1000;
const FILE_COMMAND_TIMEOUT_MS = 30_000;
const USER_COMMAND_TIMEOUT_MS = 15_000;
const HTTP_TIMEOUT_MS = 15_000;

export interface ServerActions {
  /** The session events, with the file actions run on what they report. */
  sessionEvents(base: SessionEvents): SessionEvents;
  /** The provider, with the user actions run on its account writes. */
  userProvider(provider: DataProvider): DataProvider;
  /** Waits for queued and running hooks, at most `ms` (a shutdown, a CLI about to exit). */
  settle(ms: number): Promise<void>;
}

export interface ServerActionsOptions {
  config: Pick<Config, 'sftpd' | 'data_provider'>;
  log: Logger;
  registry: Registry;
}

export function createServerActions(options: ServerActionsOptions): ServerActions {
  const { config, log } = options;
  const metrics = registerActionMetrics(options.registry);
  const queues: ActionQueue[] = [];
  const runner = (section: ActionSection, commandTimeoutMs: number): ActionRunner => {
    const queue = new ActionQueue({
      concurrency: ACTION_CONCURRENCY,
      capacity: ACTION_QUEUE_CAPACITY,
    });
    queues.push(queue);
    const settings = config[section].actions;
    return new ActionRunner({
      section,
      settings,
      queue,
      log,
      metrics,
      commandTimeoutMs,
      httpTimeoutMs: HTTP_TIMEOUT_MS,
    });
  };
  const files = runner('sftpd', FILE_COMMAND_TIMEOUT_MS);
  const users = runner('data_provider', USER_COMMAND_TIMEOUT_MS);
  // Building a call cannot fail for an account that could log in; if it ever does, the
  // operation it reports has already succeeded and must not fail because of it.
  // Every fire waits on the same loaded module, so hooks still reach the queue in event order.
  const fire = (target: ActionRunner, build: (calls: CallBuilders) => ActionCall): void => {
    void loadCallBuilders().then(
      (calls) => {
        try {
          target.fire(build(calls));
        } catch (err) {
          log.warn({ err }, 'action not run: its arguments could not be built');
        }
      },
      (err: unknown) => log.warn({ err }, 'action not run: its module did not load'),
    );
  };
  const fireFile = (event: FileActionEvent): void => {
    if (files.handles(event.action)) fire(files, (calls) => calls.fileActionCall(event));
  };
  return {
    // Without file hooks, the events stay as they are: nothing is built for each file.
    sessionEvents: (base) =>
      files.idle
        ? base
        : {
            ...base,
            fileOperationCompleted(event) {
              base.fileOperationCompleted?.(event);
              const { operation, user, virtualPath, targetPath, size } = event;
              fireFile({ action: operation, user, virtualPath, targetPath, size });
            },
            sshCommandCompleted(event) {
              base.sshCommandCompleted?.(event);
              const { user, virtualPath, command } = event;
              fireFile({ action: 'ssh_cmd', user, virtualPath, sshCommand: command });
            },
          },
    userProvider: (provider) =>
      withUserActions(
        provider,
        (action) => users.handles(action),
        (action, user) => {
          if (users.handles(action)) fire(users, (calls) => calls.userActionCall(action, user));
        },
      ),
    async settle(ms) {
      // Events a session raised as it ended reach the actions after the replies of that tick
      // (session/after-replies.ts): let them in before waiting for the queues.
      await new Promise((resolve) => setImmediate(resolve));
      // Hooks fired before this call are queued once their builders have loaded.
      await callBuilders?.catch(() => undefined);
      const timer = new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
      await Promise.race([Promise.all(queues.map((q) => q.drained())), timer]);
    },
  };
}
