import { closeSync, openSync, readFileSync, unlinkSync, writeSync, fsyncSync } from 'node:fs';
import { FailedPreconditionError } from '../core/errors.js';

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * An exclusive pid lock on the root directory: a second berthd on the same
 * root is refused while the first lives; a lock left by a dead process (kill
 * -9, power loss) is taken over.
 */
export class RootLock {
  private constructor(readonly path: string) {}

  static acquire(path: string): RootLock {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = openSync(path, 'wx', 0o600);
        writeSync(fd, `${process.pid}\n`);
        fsyncSync(fd);
        closeSync(fd);
        return new RootLock(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && processAlive(holder)) {
        throw new FailedPreconditionError(
          `another berthd (pid ${holder}) is already running on this root (lock ${path}); stop it first or use another --root`,
        );
      }
      try {
        unlinkSync(path);
      } catch {
        // another starter removed the stale lock first; retry
      }
    }
    throw new FailedPreconditionError(`could not take the lock ${path}`);
  }

  release(): void {
    try {
      if (readFileSync(this.path, 'utf8').trim() === String(process.pid)) unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}
