export {
  createLogger,
  REDACT_PATHS,
  REDACTED,
  type AppLogger,
  type LoggerOptions,
} from './logger.js';
export { httpLogRecord } from './http.js';
export { pruneOldLogs, rotatedNamePattern } from './rotation.js';
export type {
  CommandLog,
  CommandSender,
  ConnectionFailedLog,
  HttpLog,
  LoginType,
  Protocol,
  TransferLog,
} from './records.js';
