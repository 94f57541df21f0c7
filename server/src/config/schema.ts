/**
 * The one source of truth for configuration: every key with its type, bounds, default and
 * description. The `Config` type, defaults, env variable names and docs/config.md all derive
 * from this schema, so none of them can drift from it.
 */
import {
  Type,
  type Static,
  type TInteger,
  type TObject,
  type TSchema,
  type TString,
  type TUnsafe,
} from '@sinclair/typebox';

import {
  HOST_KEY_TYPES,
  NOT_ENFORCED,
  PROVIDER_DRIVERS,
  SFTP_ACTIONS,
  SSH_COMMANDS,
  USER_ACTIONS,
} from './choices.js';

export * from './choices.js';

interface LeafOptions {
  description: string;
  notEnforced?: boolean;
  deprecated?: boolean;
  minimum?: number;
  maximum?: number;
  pattern?: string;
}

function leafOptions(opts: LeafOptions): Record<string, unknown> {
  const { notEnforced, ...rest } = opts;
  return notEnforced === true ? { ...rest, [NOT_ENFORCED]: true } : rest;
}

function int(defaultValue: number, opts: LeafOptions): TInteger {
  return Type.Integer({ default: defaultValue, ...leafOptions(opts) });
}

function str(defaultValue: string, opts: LeafOptions): TString {
  return Type.String({ default: defaultValue, ...leafOptions(opts) });
}

/** An enum as one `enum` keyword, so a bad value gets one error listing the allowed values. */
function oneOf<T extends string | number>(
  values: readonly T[],
  defaultValue: T,
  opts: LeafOptions,
): TUnsafe<T> {
  const type = typeof defaultValue === 'number' ? 'integer' : 'string';
  return Type.Unsafe<T>({ type, enum: [...values], default: defaultValue, ...leafOptions(opts) });
}

function listOf<T extends string>(
  values: readonly T[] | undefined,
  defaultValue: T[],
  opts: LeafOptions,
): TUnsafe<T[]> {
  const items = values === undefined ? { type: 'string', minLength: 1 } : { enum: [...values] };
  return Type.Unsafe<T[]>({
    type: 'array',
    items: { type: 'string', ...items },
    uniqueItems: true,
    default: defaultValue,
    ...leafOptions(opts),
  });
}

function section<T extends Record<string, TSchema>>(
  properties: T,
  description: string,
): TObject<T> {
  return Type.Object(properties, { additionalProperties: false, default: {}, description });
}

const ABSOLUTE_OR_EMPTY = '^(/.*)?$';
const HTTP_URL_OR_EMPTY = '^(https?://[^\\s]+)?$';
const NETWORK_DRIVER_ONLY = 'Used only by the postgresql and mysql drivers.';

function actionsSection<T extends string>(
  events: readonly T[],
  what: string,
  notification: string,
): TObject<{ execute_on: TUnsafe<T[]>; command: TString; http_notification_url: TString }> {
  return section(
    {
      execute_on: listOf(events, [], {
        description: `Events that run the hooks: ${events.join(', ')}. Empty disables them.`,
      }),
      command: str('', {
        description:
          'Absolute path of a program run for each event, with arguments and SFTPGO_* variables as described in docs/actions.md; never through a shell. Empty runs nothing.',
        pattern: ABSOLUTE_OR_EMPTY,
      }),
      http_notification_url: str('', {
        description: `http(s) URL notified for each event (${notification}). Empty sends nothing.`,
        pattern: HTTP_URL_OR_EMPTY,
      }),
    },
    `Hooks run after ${what}.`,
  );
}

const sftpd = section(
  {
    bind_port: int(2022, {
      description: 'TCP port of the SFTP server; 0 picks a free port.',
      minimum: 0,
      maximum: 65535,
    }),
    bind_address: str('', {
      description: 'Address to listen on; empty listens on every interface.',
    }),
    idle_timeout: int(15, {
      description: 'Minutes without activity before a client is disconnected; 0 never.',
      minimum: 0,
    }),
    max_auth_tries: int(0, {
      description:
        'Authentication attempts allowed per connection: 0 means 6, negative means no limit.',
    }),
    umask: str('0022', {
      description: 'Octal umask applied to new files and directories.',
      pattern: '^0?[0-7]{3}$',
    }),
    banner: str('', {
      description: 'SSH identification string; empty means kubesftp_<version>.',
      pattern: '^[\\x21-\\x2c\\x2e-\\x7e]*$',
    }),
    upload_mode: oneOf([0, 1, 2], 0, {
      description:
        '0 writes uploads in place; 1 writes to a temporary file renamed on success and removed on error; 2 is like 1 but keeps the partial file on error so the client can resume.',
    }),
    actions: actionsSection(
      SFTP_ACTIONS,
      'file operations and SSH commands',
      'a GET with the event in the query',
    ),
    keys: Type.Array(
      Type.Object(
        {
          private_key: Type.String({
            minLength: 1,
            description: 'Host private key file, absolute or relative to the config dir.',
          }),
        },
        { additionalProperties: false },
      ),
      {
        default: [],
        description:
          'Host private keys as a list of {"private_key": path}. Empty loads or generates keys in the config dir (see host_key_types). A key file others can access or its group can write stops the start; group read is accepted.',
      },
    ),
    enable_scp: Type.Boolean({
      default: false,
      deprecated: true,
      description:
        'Adds "scp" to enabled_ssh_commands; list "scp" there instead. scp in its default SFTP mode works without it.',
    }),
    kex_algorithms: listOf(undefined, [], {
      description: 'Key exchange algorithms in preference order; empty keeps the built-in list.',
    }),
    ciphers: listOf(undefined, [], {
      description: 'Allowed ciphers in preference order; empty keeps the built-in list.',
    }),
    macs: listOf(undefined, [], {
      description: 'MAC algorithms in preference order; empty keeps the built-in list.',
    }),
    login_banner_file: str('', {
      description:
        'File whose text is shown to clients before authentication, absolute or relative to the config dir. Empty shows nothing.',
    }),
    setstat_mode: oneOf([0, 1], 0, {
      description:
        '0 applies permission, owner and time changes; 1 accepts and silently ignores them.',
    }),
    enabled_ssh_commands: listOf(SSH_COMMANDS, ['md5sum', 'sha1sum', 'cd', 'pwd'], {
      description:
        'SSH commands clients may run over exec; "*" enables every supported command. Others are refused with a message and exit status 1. rsync and the git commands run system binaries on local homes only; read docs/ssh-commands.md before enabling them.',
    }),
    keyboard_interactive_auth_program: str('', {
      description:
        'Absolute path of a program driving keyboard-interactive login. Empty disables it.',
      pattern: ABSOLUTE_OR_EMPTY,
      notEnforced: true,
    }),
    login_grace_time: int(120, {
      description: 'Seconds a client has to finish logging in before it is disconnected.',
      minimum: 1,
      maximum: 3600,
    }),
    channel_window_size: int(2 * 1024 * 1024, {
      description:
        'SSH channel window in bytes: how much a client may send before the server acknowledges it. Raise it for links with a long round trip.',
      minimum: 32 * 1024,
      maximum: 1024 * 1024 * 1024,
    }),
    shutdown_grace_period: int(30, {
      description:
        'Seconds running transfers get to finish after SIGTERM before connections close.',
      minimum: 0,
      maximum: 3600,
    }),
    max_startups: str('10:30:100', {
      description:
        'Connections not logged in yet, as OpenSSH reads MaxStartups: with "start:rate:full", once start connections are waiting to log in a newcomer is closed at accept with rate% probability, rising linearly to always at full; a single number N closes every newcomer from N on. start may not exceed full and rate runs from 1 to 100. A connection stops counting when it logs in or closes.',
      pattern: '^[0-9]+(:[0-9]+:[0-9]+)?$',
    }),
    max_per_host_connections: int(20, {
      description:
        'Connections one client address may hold at once, logged in or not, counted from TCP accept to close; a newcomer over it is closed at accept. 0 means no limit. Behind a proxy or SNAT every client shares one address: raise it, or list that address in defender.safe_list, which exempts it.',
      minimum: 0,
    }),
    workers: int(1, {
      description:
        'Processes serving SFTP and SCP on the one port: 1 serves in this process; N > 1 forks N workers that the listening process hands each admitted connection to, the one with the fewest connections first; 0 picks the CPUs the cgroup grants (cpu.max), at most the CPUs the process may use. More than 1 needs a data provider shared across processes (not memory). Each worker costs about one idle server of memory.',
      minimum: 0,
      maximum: 256,
    }),
    max_total_connections: int(0, {
      description:
        'Connections this server holds at once, logged in or not, counted from TCP accept to close; a newcomer over it is closed at accept. 0 means no limit.',
      minimum: 0,
    }),
    max_channels_per_connection: int(10, {
      description:
        'Session channels (sftp, scp, commands) one connection may have open at once, as OpenSSH MaxSessions; the client gets a channel open failure for one more.',
      minimum: 1,
      maximum: 1024,
    }),
    max_open_handles: int(256, {
      description:
        'Open files and directories one SFTP session may hold; one more open fails with a FAILURE status. Advertised to clients in the limits@openssh.com reply.',
      minimum: 1,
      maximum: 65536,
    }),
    max_pending_bytes: int(16 * 1024 * 1024, {
      description:
        'Bytes of requests one SFTP session may have queued or running (a session whose account has an upload_bandwidth: about one second of that rate, at least 1 MiB); all the SFTP sessions of one server process together hold at most this setting, shared evenly among the sessions holding bytes (each may always have one request). Past its bound or its share, a session stops reading from its client until work completes.',
      minimum: 1024 * 1024,
      maximum: 1024 * 1024 * 1024,
    }),
    chown_any_id: Type.Boolean({
      default: false,
      description:
        'Lets chown give a file any uid and gid the server process may set. Off, a user may only set the uid and gid of their own account.',
    }),
    host_key_types: Type.Unsafe<Array<(typeof HOST_KEY_TYPES)[number]>>({
      type: 'array',
      items: { type: 'string', enum: [...HOST_KEY_TYPES] },
      uniqueItems: true,
      minItems: 1,
      default: [...HOST_KEY_TYPES],
      description:
        'Host key types loaded or generated in the config dir when keys is empty (id_<type> files).',
    }),
  },
  'The SFTP server.',
);

const dataProvider = section(
  {
    driver: oneOf(PROVIDER_DRIVERS, 'sqlite', {
      description:
        'Where users live: sqlite (embedded, the default), postgresql (shared by every server of a cluster), mysql (MySQL 8 or MariaDB 10.5+), memory (in process, optionally loaded from a dump), kv (an embedded LMDB key/value file; bolt is accepted as another name for it, but an SFTPGo bolt file itself is refused, not read).',
    }),
    name: str('kubesftp.db', {
      description:
        'sqlite, kv: the database file, absolute or relative to the config dir, created with mode 0600 (a file others can access or its group can write stops the start). postgresql, mysql: the database. memory: a dump from `kubesftp dumpdata` to load at start when the name ends in .json; the memory driver ignores any other name.',
    }),
    host: str('', { description: `Database host. ${NETWORK_DRIVER_ONLY}` }),
    port: int(5432, {
      description: `Database port (PostgreSQL listens on 5432, MySQL on 3306). ${NETWORK_DRIVER_ONLY}`,
      minimum: 0,
      maximum: 65535,
    }),
    username: str('', { description: `Database user. ${NETWORK_DRIVER_ONLY}` }),
    password: str('', {
      description: `Database password. ${NETWORK_DRIVER_ONLY}`,
    }),
    sslmode: oneOf([0, 1, 2, 3] as const, 0, {
      description: `TLS to the database: 0 off, 1 required, 2 verify CA, 3 verify CA and host name. ${NETWORK_DRIVER_ONLY}`,
    }),
    connection_string: str('', {
      description: `A URL (postgres://user:password@host:port/db?sslmode=verify-full, mysql://user:password@host:port/db) used instead of host, port, name, username, password and sslmode. ${NETWORK_DRIVER_ONLY}`,
    }),
    users_table: str('users', {
      description: 'Table holding the users.',
      pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
    }),
    manage_users: oneOf([0, 1] as const, 1, {
      description: '1 lets the REST API add, change and delete users; 0 makes them read-only.',
    }),
    track_quota: oneOf([0, 1, 2], 2, {
      description:
        'Quota tracking: 0 off; 1 on every upload and delete for all users; 2 only for users with a quota.',
    }),
    session_expiry: int(30, {
      description:
        'Seconds a session still counts for max_sessions, and keeps its reserved quota, after its server process last refreshed it. Each process refreshes its sessions every third of this; a process that dies (SIGKILL, a lost node) frees its sessions within this time.',
      minimum: 3,
      maximum: 3600,
    }),
    pool_size: int(0, {
      description: `Most open database connections per server process; 0 means no limit. ${NETWORK_DRIVER_ONLY}`,
      minimum: 0,
    }),
    users_base_dir: str('', {
      description:
        'Absolute base directory for users added without a home dir (home = base/username). Empty requires a home dir.',
      pattern: ABSOLUTE_OR_EMPTY,
    }),
    actions: actionsSection(
      USER_ACTIONS,
      'user changes',
      'a POST of the account as JSON, without secrets',
    ),
    external_auth_program: str('', {
      description: 'Absolute path of a program that authenticates users. Empty disables it.',
      pattern: ABSOLUTE_OR_EMPTY,
      notEnforced: true,
    }),
    external_auth_scope: int(0, {
      description:
        'Logins sent to the external program, as flags: 1 password, 2 public key, 4 keyboard-interactive; 0 all.',
      minimum: 0,
      maximum: 7,
      notEnforced: true,
    }),
  },
  'The user and quota store.',
);

const httpd = section(
  {
    bind_port: int(8080, {
      description: 'TCP port of the REST API, web admin and metrics; 0 disables the HTTP server.',
      minimum: 0,
      maximum: 65535,
    }),
    bind_address: str('127.0.0.1', {
      description: 'Address to listen on; empty listens on every interface.',
    }),
    templates_path: str('templates', {
      description: 'Web admin templates, absolute or relative to the config dir.',
      notEnforced: true,
    }),
    static_files_path: str('static', {
      description: 'Web admin static files, absolute or relative to the config dir.',
      notEnforced: true,
    }),
    backups_path: str('backups', {
      description:
        'The only directory backups are written to and restored from, absolute or relative to the config dir.',
    }),
    token_rate_limit: int(20, {
      description:
        'Token requests one client address may make per minute; 0 means no limit. Each request costs a password hash.',
      minimum: 0,
    }),
    admin_token_ttl: int(3600, {
      description: 'Seconds an admin API token stays valid.',
      minimum: 60,
      maximum: 7 * 24 * 3600,
    }),
  },
  'The HTTP server.',
);

const defender = section(
  {
    enabled: Type.Boolean({
      default: true,
      description:
        'Scores failed logins and refused connections per client address and bans an address whose score reaches the threshold: its new connections are closed at accept. safe_list and block_list apply even when this is off.',
    }),
    driver: oneOf(['memory', 'provider'] as const, 'provider', {
      description:
        'Where scores and bans live: provider keeps them in the data provider, shared by every server on it; memory keeps them in this process only.',
    }),
    ban_time: int(30, { description: 'Minutes of a first ban.', minimum: 1 }),
    ban_time_increment: int(50, {
      description:
        'Percent by which each further ban of an address outlasts its previous one, while the address is remembered (observation_time after its last ban ends); at most 30 days.',
      minimum: 0,
    }),
    threshold: int(15, {
      description: 'Score within observation_time at which an address is banned.',
      minimum: 1,
    }),
    score_invalid: int(2, {
      description: 'Score of a login attempt for a user that does not exist.',
      minimum: 0,
    }),
    score_valid: int(1, {
      description:
        'Score of a wrong password or key signature for a user that exists. A key offered without a signature and a login refused by the account (disabled, expired, IP filter, max_sessions) do not score.',
      minimum: 0,
    }),
    score_limit_exceeded: int(3, {
      description:
        'Score of a connection closed at accept because its address reached max_per_host_connections. Refusals over max_total_connections and max_startups do not score: those bounds are shared by every client.',
      minimum: 0,
    }),
    score_no_auth: int(0, {
      description:
        'Score of a connection that ended, or ran out of login_grace_time, without any login attempt. Load balancer health checks look like that: keep it 0 behind one.',
      minimum: 0,
    }),
    observation_time: int(30, {
      description:
        'Minutes an event counts towards its address score; also how long a ban is remembered after it ends, for ban_time_increment.',
      minimum: 1,
    }),
    entries_soft_limit: int(100, {
      description:
        'Addresses kept once the oldest are dropped for being past entries_hard_limit; must be lower than it.',
      minimum: 1,
    }),
    entries_hard_limit: int(150, {
      description:
        'Addresses tracked at most: past it the oldest are dropped down to entries_soft_limit, scored ones before banned ones. The memory driver applies it at once, the provider driver at its cleanup, once a minute at most.',
      minimum: 1,
    }),
    safe_list: listOf<string>(undefined, [], {
      description:
        'Addresses or CIDR ranges never scored nor banned, and exempt from max_per_host_connections.',
    }),
    block_list: listOf<string>(undefined, [], {
      description: 'Addresses or CIDR ranges whose connections are always closed at accept.',
    }),
  },
  'Brute-force protection: scores and bans per client address, checked when an SSH connection is accepted and on every admin token request.',
);

const secrets = section(
  {
    master_key_file: str('', {
      description:
        'File holding the master key that encrypts account secrets at rest (the S3 access_secret), absolute or relative to the config dir; at least 16 characters, surrounding whitespace ignored. A file others can access or its group can write stops the start. Empty uses master_key.',
    }),
    master_key: str('', {
      description:
        'The master key itself, at least 16 characters; give it as KUBESFTP_SECRETS__MASTER_KEY rather than in a file. With both keys empty, a random key kept in the data provider is used: then a copy of the database holds both the secrets and their key. Every server of a cluster needs the same key; secrets sealed with another key do not open (set them again).',
    }),
  },
  'Encryption of the secrets stored with accounts.',
);

const s3 = section(
  {
    abandoned_upload_timeout: int(3600, {
      description:
        'At start, unfinished S3 multipart uploads under the key prefix of an S3 account whose last part is older than this many seconds are aborted, so uploads cut off by a crash stop costing storage. A server aborts its own unfinished uploads when a transfer fails or a client goes away; this catches those of a server that was killed. 0 disables the sweep.',
      minimum: 0,
    }),
  },
  'S3 homes.',
);

export const ConfigSchema = Type.Object(
  { sftpd, data_provider: dataProvider, httpd, defender, secrets, s3 },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;
export type SftpdConfig = Config['sftpd'];
export type DataProviderConfig = Config['data_provider'];
export type HttpdConfig = Config['httpd'];
export type DefenderConfig = Config['defender'];
export type SecretsConfig = Config['secrets'];
export type S3ServerConfig = Config['s3'];
