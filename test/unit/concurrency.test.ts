import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allSettledOrThrow, SingleFlight } from '../../src/core/util/concurrency.js';

/** Work that resolves when told to, and records whether its signal aborted. */
function controllable() {
  let finish!: (v: string) => void;
  const state = { started: 0, aborted: false };
  const work = (signal: AbortSignal) => {
    state.started++;
    signal.addEventListener('abort', () => (state.aborted = true));
    return new Promise<string>((resolve) => (finish = resolve));
  };
  return { work, state, finish: (v: string) => finish(v) };
}

describe('SingleFlight', () => {
  it('runs one piece of work for concurrent callers of a key', async () => {
    const flights = new SingleFlight<string>();
    const w = controllable();
    const a = flights.do('k', w.work);
    const b = flights.do('k', w.work);
    w.finish('done');
    assert.deepEqual(await Promise.all([a, b]), ['done', 'done']);
    assert.equal(w.state.started, 1);
    assert.equal(flights.size, 0);
  });

  it('lets a caller leave when its signal aborts, and aborts the work once every caller has left', async () => {
    const flights = new SingleFlight<string>();
    const w = controllable();
    const first = new AbortController();
    const second = new AbortController();
    const a = flights.do('k', w.work, first.signal);
    const b = flights.do('k', w.work, second.signal);
    first.abort(new Error('first gone'));
    await assert.rejects(a, /first gone/);
    assert.equal(w.state.aborted, false, 'the second caller still waits');
    second.abort(new Error('second gone'));
    await assert.rejects(b, /second gone/);
    assert.equal(w.state.aborted, true);
    w.finish('too late'); // settles quietly: nobody waits
  });

  it('starts abandoned work afresh for a later caller, once the abandoned attempt has wound down', async () => {
    const flights = new SingleFlight<string>();
    const first = controllable();
    const leaving = new AbortController();
    const a = flights.do('k', first.work, leaving.signal);
    leaving.abort(new Error('gone'));
    await assert.rejects(a, /gone/);
    const second = controllable();
    const b = flights.do('k', second.work);
    await new Promise((r) => setImmediate(r));
    assert.equal(second.state.started, 0, 'waits for the abandoned attempt');
    first.finish('abandoned');
    await new Promise((r) => setImmediate(r));
    assert.equal(second.state.started, 1);
    second.finish('fresh');
    assert.equal(await b, 'fresh');
    assert.equal(flights.size, 0);
  });

  it('never aborts work a caller without a signal waits for', async () => {
    const flights = new SingleFlight<string>();
    const w = controllable();
    const leaving = new AbortController();
    const a = flights.do('k', w.work, leaving.signal);
    const b = flights.do('k', w.work);
    leaving.abort(new Error('gone'));
    await assert.rejects(a, /gone/);
    assert.equal(w.state.aborted, false);
    w.finish('kept');
    assert.equal(await b, 'kept');
  });

  it('refuses a caller whose signal already aborted without starting anything', () => {
    const flights = new SingleFlight<string>();
    const w = controllable();
    assert.throws(() => flights.do('k', w.work, AbortSignal.abort(new Error('already'))), /already/);
    assert.equal(w.state.started, 0);
  });
});

const later = <T>(ms: number, value: T): Promise<T> => new Promise((resolve) => setTimeout(() => resolve(value), ms));

describe('allSettledOrThrow', () => {
  it('resolves with every value in argument order', async () => {
    assert.deepEqual(await allSettledOrThrow<[number, string]>([later(20, 1), later(1, 'two')]), [1, 'two']);
  });

  it('rejects only after every promise has settled, with the first failure in argument order', async () => {
    const finished: string[] = [];
    const slow = later(30, 'slow').then((v) => {
      finished.push(v);
      return v;
    });
    const second = new Error('second');
    const first = new Error('first');
    await assert.rejects(
      allSettledOrThrow([slow, later(5, 0).then(() => Promise.reject(first)), Promise.reject(second)]),
      (err) => err === first,
    );
    assert.deepEqual(finished, ['slow'], 'the slow step had finished before the rejection arrived');
  });
});
