import { closeSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { FailedPreconditionError } from '../core/errors.js';
import { flock, isSysError, LOCK_EX, LOCK_NB } from '../core/sys/native.js';

/**
 * An exclusive flock(2) on `<root>/berthd.lock`: a second berthd on the same
 * root is refused while the first lives. The kernel drops the lock when its
 * holder dies, so a kill -9 never leaves a stale lock behind.
 */
export class RootLock {
  private constructor(private readonly fd: number) {}

  static acquire(path: string): RootLock {
    const fd = openSync(path, 'a+', 0o600);
    try {
      flock(fd, LOCK_EX | LOCK_NB);
    } catch (err) {
      closeSync(fd);
      if (isSysError(err, 'EWOULDBLOCK') || isSysError(err, 'EAGAIN')) {
        const holder = readFileSync(path, 'utf8').trim() || 'unknown';
        throw new FailedPreconditionError(
          `another berthd (pid ${holder}) is already running on this root (lock ${path}); stop it first or use another --root`,
        );
      }
      throw err;
    }
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}\n`, 0);
    return new RootLock(fd);
  }

  /** Releases the lock (closing the descriptor drops it); the file stays. */
  release(): void {
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
  }
}
