import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import { hashPassword, verifyPassword } from '../auth/passwords.js';
import type { Admin, DataProvider } from '../dataprovider/types.js';
import { AuthenticationError, InvalidCredentialsError } from './http-errors.js';

/** The provider secret every pod signs and checks admin tokens with. */
export const TOKEN_SECRET_NAME = 'token_signing_key';
export const DEFAULT_ADMIN_TOKEN_TTL = 1200;
const ISSUER = 'kubesftp';
const AUDIENCE = 'kubesftp-admin-api';
const BASIC_CHALLENGE = 'Basic realm="kubesftp", charset="UTF-8"';
const BEARER_CHALLENGE = 'Bearer realm="kubesftp"';

export interface AccessToken {
  access_token: string;
  /** Unix time in milliseconds. */
  expires_at: number;
}

export interface AdminAuthOptions {
  provider: DataProvider;
  /** Token lifetime in seconds. */
  tokenTtl: number;
}

function invalidCredentials(accountExists: boolean): InvalidCredentialsError {
  return new InvalidCredentialsError({
    message: 'invalid admin credentials',
    challenge: BASIC_CHALLENGE,
    accountExists,
  });
}

function newSigningSecret(): string {
  return randomBytes(32).toString('base64');
}

/** Reads HTTP Basic credentials; undefined when the header is absent or not Basic. */
export function parseBasicAuth(
  header: string | undefined,
): { username: string; password: string } | undefined {
  const match = header === undefined ? null : /^Basic +([A-Za-z0-9+/=]+) *$/i.exec(header);
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * Ties a token to the credentials it was issued for: a keyed digest of the admin's id and
 * stored password hash, checked against the stored admin on every request. Every password
 * change stores a hash with a fresh salt (even for the same password), and a recreated admin
 * gets a new id, so either one ends the old tokens at once, on every pod, with no revocation
 * list or extra column to keep. The key keeps the digest from saying anything about the hash.
 */
function credentialStamp(key: Uint8Array, admin: Admin): string {
  return createHmac('sha256', key)
    .update(`${admin.id}:${admin.password}`)
    .digest()
    .subarray(0, 16)
    .toString('base64url');
}

function sameStamp(claim: unknown, expected: string): boolean {
  if (typeof claim !== 'string') return false;
  const a = Buffer.from(claim);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function invalidToken(): AuthenticationError {
  return new AuthenticationError(
    'invalid or expired access token',
    `${BEARER_CHALLENGE}, error="invalid_token"`,
  );
}

function parseBearer(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(header);
  return match?.[1];
}

/**
 * Issues and checks admin access tokens: HS256 JWTs keyed by a secret the data provider keeps,
 * so a token from one pod is accepted by every other pod of the cluster.
 */
export class AdminAuthenticator {
  readonly #provider: DataProvider;
  readonly #tokenTtl: number;
  #key: Promise<Uint8Array> | undefined;
  // Checked when the admin is unknown, so a wrong username costs as much as a wrong password.
  #decoyHash: Promise<string> | undefined;

  constructor(options: AdminAuthOptions) {
    this.#provider = options.provider;
    this.#tokenTtl = options.tokenTtl;
  }

  #signingKey(): Promise<Uint8Array> {
    if (this.#key !== undefined) return this.#key;
    const pending = this.#provider
      .getOrCreateSecret(TOKEN_SECRET_NAME, newSigningSecret)
      .then((secret) => new Uint8Array(Buffer.from(secret, 'base64')));
    // A provider outage must not poison the cache for the life of the process.
    pending.catch(() => {
      if (this.#key === pending) this.#key = undefined;
    });
    this.#key = pending;
    return pending;
  }

  /** The admin these credentials belong to, if it is active; wrong or unknown costs the same. */
  /** The active admin these credentials belong to; InvalidCredentialsError otherwise. */
  async #checkAdminPassword(username: string, password: string): Promise<Admin> {
    const admin = await this.#provider.getAdminByUsername(username);
    if (admin === undefined) {
      this.#decoyHash ??= hashPassword(newSigningSecret());
      await verifyPassword(password, await this.#decoyHash);
      throw invalidCredentials(false);
    }
    const matches = await verifyPassword(password, admin.password);
    if (!matches || admin.status !== 1) throw invalidCredentials(true);
    return admin;
  }

  /** Trades an admin's Basic credentials for an access token. */
  async issueToken(authorization: string | undefined): Promise<AccessToken> {
    const credentials = parseBasicAuth(authorization);
    if (credentials === undefined)
      throw new AuthenticationError('admin credentials required', BASIC_CHALLENGE);
    const admin = await this.#checkAdminPassword(credentials.username, credentials.password);
    const key = await this.#signingKey();
    const issuedAt = Math.floor(Date.now() / 1000);
    const expiresAt = issuedAt + this.#tokenTtl;
    const token = await new SignJWT({ cred: credentialStamp(key, admin) })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(admin.username)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(issuedAt)
      .setExpirationTime(expiresAt)
      .sign(key);
    return { access_token: token, expires_at: expiresAt * 1000 };
  }

  /**
   * Returns the admin name a bearer token was issued to, or throws AuthenticationError. The
   * admin must still exist, be active and have the credentials the token was issued for.
   */
  async verifyToken(authorization: string | undefined): Promise<string> {
    const token = parseBearer(authorization);
    if (token === undefined)
      throw new AuthenticationError('access token required', BEARER_CHALLENGE);
    const key = await this.#signingKey();
    let claims: { sub?: unknown; cred?: unknown };
    try {
      ({ payload: claims } = await jwtVerify(token, key, {
        algorithms: ['HS256'],
        issuer: ISSUER,
        audience: AUDIENCE,
      }));
    } catch {
      throw invalidToken();
    }
    if (typeof claims.sub !== 'string') throw invalidToken();
    // Outside the try: a provider outage is a 503, not a bad token.
    const admin = await this.#provider.getAdminByUsername(claims.sub);
    if (admin?.status !== 1 || !sameStamp(claims.cred, credentialStamp(key, admin))) {
      throw invalidToken();
    }
    return admin.username;
  }
}
