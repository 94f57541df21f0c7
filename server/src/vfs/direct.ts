/**
 * A path-based Vfs straight over a Backend, with no policy: locate, act on the location, give
 * it back. The server always puts session/'s policy layer in between; this serves tests and
 * tools that drive a backend alone (the SFTP engine tests, the stdio server).
 */
import type {
  Backend,
  FileStat,
  Location,
  OpenFlags,
  RenameOptions,
  SetAttrs,
  StatVfs,
  Vfs,
  VfsCapabilities,
  VfsDir,
  VfsFile,
} from './types.js';
import { atBothLocations, atLocation } from './locations.js';

export class DirectVfs implements Vfs {
  readonly #backend: Backend;

  constructor(backend: Backend) {
    this.#backend = backend;
  }

  get capabilities(): VfsCapabilities {
    return this.#backend.capabilities;
  }

  #at<T>(path: string, followFinal: boolean, act: (at: Location) => Promise<T>): Promise<T> {
    return atLocation(this.#backend, { path, followFinal }, act);
  }

  #atBoth<T>(paths: [string, string], act: (a: Location, b: Location) => Promise<T>): Promise<T> {
    return atBothLocations(this.#backend, paths, act);
  }

  stat(path: string): Promise<FileStat> {
    return this.#at(path, true, (at) => this.#backend.stat(at));
  }

  lstat(path: string): Promise<FileStat> {
    return this.#at(path, false, (at) => this.#backend.stat(at));
  }

  realpath(path: string): Promise<string> {
    return this.#at(path, true, (at) => Promise.resolve(at.path));
  }

  open(path: string, flags: OpenFlags, attrs?: SetAttrs): Promise<VfsFile> {
    return this.#at(path, true, (at) => this.#backend.open(at, flags, attrs));
  }

  opendir(path: string): Promise<VfsDir> {
    return this.#at(path, true, (at) => this.#backend.opendir(at));
  }

  mkdir(path: string, attrs?: SetAttrs): Promise<void> {
    return this.#at(path, false, (at) => this.#backend.mkdir(at, attrs));
  }

  rmdir(path: string): Promise<void> {
    return this.#at(path, false, (at) => this.#backend.rmdir(at));
  }

  remove(path: string): Promise<void> {
    return this.#at(path, false, (at) => this.#backend.remove(at));
  }

  rename(from: string, to: string, options: RenameOptions): Promise<void> {
    return this.#atBoth([from, to], (source, target) =>
      this.#backend.rename(source, target, options),
    );
  }

  symlink(linkPath: string, target: string): Promise<void> {
    return this.#at(linkPath, false, (at) => this.#backend.symlink(at, target));
  }

  readlink(path: string): Promise<string> {
    return this.#at(path, false, (at) => this.#backend.readlink(at));
  }

  link(existingPath: string, newPath: string): Promise<void> {
    return this.#atBoth([existingPath, newPath], (existing, at) =>
      this.#backend.link(existing, at),
    );
  }

  setstat(path: string, attrs: SetAttrs): Promise<void> {
    return this.#at(path, true, (at) => this.#backend.setstat(at, attrs));
  }

  lsetstat(path: string, attrs: SetAttrs): Promise<void> {
    return this.#at(path, false, (at) => this.#backend.setstat(at, attrs));
  }

  statvfs(path: string): Promise<StatVfs> {
    return this.#at(path, true, (at) => this.#backend.statvfs(at));
  }

  close(): Promise<void> {
    return this.#backend.close();
  }
}
