// Embeds the commit and build date into dist/build-info.json; run after `tsc`.
import process from 'node:process';
import { writeBuildInfo } from '../dist/server/src/version.js';

const info = writeBuildInfo();
process.stdout.write(
  `dist/build-info.json: commit ${info.commit || '(none)'}, date ${info.date}\n`,
);
