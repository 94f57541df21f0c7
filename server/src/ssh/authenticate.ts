import type { AuthContext, ParsedKey, PublicKeyAuthContext } from 'ssh2';
import { parseKey } from './ssh2-server-parts.js';
import { verifyPassword } from '../auth/passwords.js';
import { matchPublicKey } from '../auth/publickeys.js';
import type { DataProvider, User } from '../dataprovider/types.js';
import { ErrorCode, isKubesftpError, toKubesftpError } from '../errors.js';
import { checkLoginAllowed } from '../session/login.js';

export type LoginType = 'public_key' | 'password' | 'keyboard-interactive' | 'no_auth_tryed';

export interface AuthFailure {
  username: string;
  loginType: LoginType;
  error: string;
}

/**
 * Why an attempt failed, for the defender: only guessing (an unknown user, a wrong password or
 * signature) counts against the client address. A key offered without a signature only asks
 * whether the key would do; a refused login with the right credentials is a policy matter.
 */
export type FailureCause =
  | 'unknown_user'
  | 'bad_credentials'
  | 'key_probe'
  | 'refused_by_policy'
  | 'provider_unavailable'
  | 'error';

export interface AuthenticatorOptions {
  provider: DataProvider;
  clientIp: string;
  /** Failed attempts before the connection is closed; negative means unlimited. */
  maxAttempts: number;
  /**
   * Claims the session the login opens, counted against max_sessions on every process;
   * false when the user has no session left. Called last, once everything else allowed it.
   */
  claimSession(user: User): Promise<boolean>;
  onFailure(failure: AuthFailure, cause: FailureCause): void;
  /** Called when the attempt budget is spent; the caller ends the connection. */
  onTooManyAttempts(): void;
}

const METHODS: AuthContext['method'][] = ['publickey', 'password'];

/**
 * Authenticates one SSH connection's attempts. Every refused attempt counts towards the
 * attempt budget, a refused key query too (as OpenSSH counts it); a key the user owns is
 * answered "ok to sign" without counting. The reason a login failed goes to the log only.
 */
export class Authenticator {
  readonly #options: AuthenticatorOptions;
  #failures = 0;
  #user: User | undefined;

  constructor(options: AuthenticatorOptions) {
    this.#options = options;
  }

  /** The authenticated user, once an attempt succeeded. */
  get user(): User | undefined {
    return this.#user;
  }

  async handle(ctx: AuthContext): Promise<void> {
    if (ctx.method !== 'password' && ctx.method !== 'publickey') {
      ctx.reject(METHODS);
      return;
    }
    const loginType: LoginType = ctx.method === 'password' ? 'password' : 'public_key';
    let cause: FailureCause = 'error';
    try {
      const user = await this.#options.provider.getUserByUsername(ctx.username);
      const verdict = await this.#verify(ctx, user);
      if (verdict === 'query-ok') return ctx.accept();
      if (user === undefined || verdict !== 'ok') {
        cause = failureCause(verdict, user);
        throw new Error('invalid credentials');
      }
      cause = 'refused_by_policy';
      await this.#checkPolicy(user);
      this.#user = user;
      ctx.accept();
    } catch (err) {
      const unavailable = isKubesftpError(err, ErrorCode.PROVIDER_UNAVAILABLE);
      const message = toKubesftpError(err).message;
      this.#fail(
        ctx,
        {
          username: ctx.username,
          loginType,
          error: unavailable ? `data provider unavailable: ${message}` : message,
        },
        unavailable ? 'provider_unavailable' : cause,
      );
    }
  }

  async #verify(ctx: AuthContext, user: User | undefined): Promise<Verdict> {
    if (ctx.method === 'password') {
      // Unknown users still pay for a hash check so timing does not reveal which names exist.
      const ok = await verifyPassword(ctx.password, user?.password || UNKNOWN_USER_HASH);
      return ok && user !== undefined && user.password !== '' ? 'ok' : 'bad';
    }
    if (ctx.method !== 'publickey') return 'bad';
    const query = ctx.signature === undefined || ctx.blob === undefined;
    if (user === undefined) return query ? 'query-refused' : 'bad';
    return verifyPublicKey(ctx, user);
  }

  async #checkPolicy(user: User): Promise<void> {
    checkLoginAllowed(user, this.#options.clientIp);
    if (!(await this.#options.claimSession(user))) {
      throw new Error(`too many open sessions: ${user.max_sessions} allowed`);
    }
  }

  #fail(ctx: AuthContext, failure: AuthFailure, cause: FailureCause): void {
    this.#failures += 1;
    this.#options.onFailure(failure, cause);
    ctx.reject(METHODS);
    const max = this.#options.maxAttempts;
    if (max >= 0 && this.#failures >= max) this.#options.onTooManyAttempts();
  }
}

type Verdict = 'ok' | 'query-ok' | 'query-refused' | 'bad';

function failureCause(verdict: Verdict, user: User | undefined): FailureCause {
  if (verdict === 'query-refused') return 'key_probe';
  return user === undefined ? 'unknown_user' : 'bad_credentials';
}

/** A key the user owns: a query without signature is answered "ok to sign", a signature is checked. */
function verifyPublicKey(ctx: PublicKeyAuthContext, user: User): Verdict {
  const stored = matchPublicKey(user.public_keys, ctx.key.algo, ctx.key.data);
  if (ctx.signature === undefined || ctx.blob === undefined) {
    return stored === undefined ? 'query-refused' : 'query-ok';
  }
  if (stored === undefined) return 'bad';
  const parsed = parseKey(stored);
  if (parsed instanceof Error) return 'bad';
  // A public key line parses to one key; the array form only comes from private key files.
  const key: ParsedKey | undefined = Array.isArray(parsed) ? (parsed as ParsedKey[])[0] : parsed;
  return key?.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true ? 'ok' : 'bad';
}

/** An argon2id hash of a random value: verifying against it always fails, at the usual cost. */
const UNKNOWN_USER_HASH =
  '$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$3pJqTG3eUjdCSL1FtYb2lHx2ZEWLUtjiDKYLaEdX5zI';
