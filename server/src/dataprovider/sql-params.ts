/**
 * SQL is written once with `@name` placeholders and bound as each server expects: `$1` for
 * PostgreSQL, `?` for MySQL. Values are always sent as parameters, never spliced into text.
 */
import { ErrorCode, KubesftpError } from '../errors.js';

export type SqlValue = string | number | null;
export type SqlParams = Record<string, SqlValue | undefined>;

export interface BoundQuery {
  text: string;
  values: SqlValue[];
}

const PLACEHOLDER = /@([A-Za-z_][A-Za-z0-9_]*)/g;

function valueOf(params: SqlParams, name: string): SqlValue {
  const value = params[name];
  if (value === undefined) {
    throw new KubesftpError(ErrorCode.FAILURE, `SQL parameter @${name} has no value`);
  }
  return value;
}

/** `@name` to `$n`, one number per distinct name. */
export function bindDollar(sql: string, params: SqlParams = {}): BoundQuery {
  const order = new Map<string, number>();
  const text = sql.replace(PLACEHOLDER, (_whole, name: string) => {
    let index = order.get(name);
    if (index === undefined) {
      index = order.size + 1;
      order.set(name, index);
    }
    return `$${index}`;
  });
  return { text, values: [...order.keys()].map((name) => valueOf(params, name)) };
}

/** `@name` to `?`, one value per occurrence. */
export function bindQuestion(sql: string, params: SqlParams = {}): BoundQuery {
  const values: SqlValue[] = [];
  const text = sql.replace(PLACEHOLDER, (_whole, name: string) => {
    values.push(valueOf(params, name));
    return '?';
  });
  return { text, values };
}
