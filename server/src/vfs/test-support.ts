/** Shared set-up for the VFS tests: open flags and content hashes. */
import { createHash } from 'node:crypto';
import type { OpenFlags } from './types.js';

export const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** Open flags with everything off except `overrides`. */
export const flags = (overrides: Partial<OpenFlags>): OpenFlags => ({
  read: false,
  write: false,
  append: false,
  create: false,
  truncate: false,
  exclusive: false,
  ...overrides,
});

export const CREATE = flags({ write: true, create: true, truncate: true });
export const READ = flags({ read: true });
