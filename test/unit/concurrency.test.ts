import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allSettledOrThrow } from '../../src/core/util/concurrency.js';

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
