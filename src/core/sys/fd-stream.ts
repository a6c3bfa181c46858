import { closeSync } from 'node:fs';
import { Duplex } from 'node:stream';
import { getSystemErrorName } from 'node:util';
import {
  closeWatch,
  isSysError,
  readFd,
  setWatchEvents,
  shutdown,
  SHUT_WR,
  watchFd,
  WATCH_READABLE,
  WATCH_WRITABLE,
  writeFd,
  type FdWatcher,
} from './native.js';

export interface FdStreamOptions {
  /** What ending the writable side does: half-close a socket, or nothing (a pty master cannot be half-closed). */
  endWrite: 'shutdown' | 'none';
  /** A pty master reads EIO once no slave is open any more: that is its end of file. */
  eioIsEnd?: boolean;
  /** Most bytes per read (default 64 KiB); on a seqpacket socket a longer datagram would be cut. */
  maxRead?: number;
}

/**
 * A Duplex over a non-blocking descriptor Node's own streams cannot take (a
 * SOCK_SEQPACKET socket, a pty master), driven by a native watcher on the
 * event loop: nothing waits in the thread pool. Each 'data' chunk is one
 * read(2), so on a seqpacket socket one chunk is one datagram; each write is
 * one datagram too. The stream owns the descriptor and closes it on destroy.
 */
export class FdStream extends Duplex {
  private watcher: FdWatcher | undefined;
  private wantRead = false;
  private readEnded = false;
  private pendingWrite: { data: Buffer; callback: (error?: Error | null) => void } | undefined;
  private readonly maxRead: number;

  constructor(
    readonly fd: number,
    private readonly options: FdStreamOptions,
  ) {
    // Object mode on the readable side keeps each read(2) a chunk of its own.
    super({ readableObjectMode: true, allowHalfOpen: true });
    this.maxRead = options.maxRead ?? 64 * 1024;
    try {
      this.watcher = watchFd(fd, (status, events) => this.onEvents(status, events));
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  override _read(): void {
    this.wantRead = true;
    this.readAvailable();
    this.updateWatch();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.pendingWrite = { data: chunk, callback };
    this.flushWrite();
    this.updateWatch();
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.options.endWrite === 'shutdown') {
      try {
        shutdown(this.fd, SHUT_WR);
      } catch (err) {
        // The peer may be gone already; the read side reports that.
        if (!isSysError(err, 'ENOTCONN')) return callback(err as Error);
      }
    }
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.pendingWrite = undefined;
    if (this.watcher) {
      closeWatch(this.watcher);
      this.watcher = undefined;
      try {
        closeSync(this.fd);
      } catch {
        // Already closed: nothing to release.
      }
    }
    callback(error);
  }

  private onEvents(status: number, events: number): void {
    if (this.destroyed) return;
    if (status < 0) {
      const code = getSystemErrorName(status);
      this.destroy(Object.assign(new Error(`${code}: polling descriptor ${this.fd} failed`), { code, errno: status, syscall: 'poll' }));
      return;
    }
    if (events & WATCH_WRITABLE) this.flushWrite();
    if (events & WATCH_READABLE) this.readAvailable();
    this.updateWatch();
  }

  private readAvailable(): void {
    while (this.wantRead && !this.readEnded && !this.destroyed) {
      let chunk: Buffer | null | undefined;
      try {
        chunk = readFd(this.fd, this.maxRead);
      } catch (err) {
        if (this.options.eioIsEnd && isSysError(err, 'EIO')) chunk = null;
        else {
          this.destroy(err as Error);
          return;
        }
      }
      if (chunk === undefined) return; // would block: the watcher says when there is more
      if (chunk === null) {
        this.readEnded = true;
        this.push(null);
        return;
      }
      if (!this.push(chunk)) this.wantRead = false;
    }
  }

  private flushWrite(): void {
    const pending = this.pendingWrite;
    if (!pending) return;
    while (pending.data.length > 0) {
      let written: number;
      try {
        written = writeFd(this.fd, pending.data);
      } catch (err) {
        this.pendingWrite = undefined;
        pending.callback(err as Error);
        return;
      }
      if (written < 0) return; // would block: wait until writable
      pending.data = pending.data.subarray(written);
    }
    this.pendingWrite = undefined;
    pending.callback();
  }

  private updateWatch(): void {
    if (!this.watcher || this.destroyed) return;
    let events = 0;
    if (this.wantRead && !this.readEnded) events |= WATCH_READABLE;
    if (this.pendingWrite) events |= WATCH_WRITABLE;
    setWatchEvents(this.watcher, events);
  }
}
