import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../../src/core/errors.js';
import { isDigest, parseReference } from '../../src/core/distribution/reference.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseReference: normalisation', () => {
  const cases: [string, { domain: string; path: string; tag?: string; digest?: string; full: string; familiar: string }][] = [
    ['busybox', { domain: 'docker.io', path: 'library/busybox', tag: 'latest', full: 'docker.io/library/busybox:latest', familiar: 'busybox:latest' }],
    ['busybox:1.36', { domain: 'docker.io', path: 'library/busybox', tag: '1.36', full: 'docker.io/library/busybox:1.36', familiar: 'busybox:1.36' }],
    ['user/img', { domain: 'docker.io', path: 'user/img', tag: 'latest', full: 'docker.io/user/img:latest', familiar: 'user/img:latest' }],
    ['docker.io/library/redis:7', { domain: 'docker.io', path: 'library/redis', tag: '7', full: 'docker.io/library/redis:7', familiar: 'redis:7' }],
    ['index.docker.io/library/redis', { domain: 'docker.io', path: 'library/redis', tag: 'latest', full: 'docker.io/library/redis:latest', familiar: 'redis:latest' }],
    ['docker.io/library/a/b', { domain: 'docker.io', path: 'library/a/b', tag: 'latest', full: 'docker.io/library/a/b:latest', familiar: 'library/a/b:latest' }],
    ['localhost/x', { domain: 'localhost', path: 'x', tag: 'latest', full: 'localhost/x:latest', familiar: 'localhost/x:latest' }],
    ['localhost:5000/x', { domain: 'localhost:5000', path: 'x', tag: 'latest', full: 'localhost:5000/x:latest', familiar: 'localhost:5000/x:latest' }],
    ['127.0.0.1:5000/x:tag', { domain: '127.0.0.1:5000', path: 'x', tag: 'tag', full: '127.0.0.1:5000/x:tag', familiar: '127.0.0.1:5000/x:tag' }],
    ['registry.k8s.io/pause:3.10', { domain: 'registry.k8s.io', path: 'pause', tag: '3.10', full: 'registry.k8s.io/pause:3.10', familiar: 'registry.k8s.io/pause:3.10' }],
    [`host.example/x@${D}`, { domain: 'host.example', path: 'x', digest: D, full: `host.example/x@${D}`, familiar: `host.example/x@${D}` }],
    [`host.example/x:v1@${D}`, { domain: 'host.example', path: 'x', tag: 'v1', digest: D, full: `host.example/x:v1@${D}`, familiar: `host.example/x:v1@${D}` }],
    [`busybox@${D}`, { domain: 'docker.io', path: 'library/busybox', digest: D, full: `docker.io/library/busybox@${D}`, familiar: `busybox@${D}` }],
    ['gcr.io/a/b/c-d_e.f__g:T_a.g-1', { domain: 'gcr.io', path: 'a/b/c-d_e.f__g', tag: 'T_a.g-1', full: 'gcr.io/a/b/c-d_e.f__g:T_a.g-1', familiar: 'gcr.io/a/b/c-d_e.f__g:T_a.g-1' }],
    ['[::1]:5000/x', { domain: '[::1]:5000', path: 'x', tag: 'latest', full: '[::1]:5000/x:latest', familiar: '[::1]:5000/x:latest' }],
    ['my-host/x', { domain: 'docker.io', path: 'my-host/x', tag: 'latest', full: 'docker.io/my-host/x:latest', familiar: 'my-host/x:latest' }],
  ];
  for (const [input, want] of cases) {
    it(input, () => {
      const ref = parseReference(input);
      assert.equal(ref.domain, want.domain);
      assert.equal(ref.path, want.path);
      assert.equal(ref.tag, want.tag);
      assert.equal(ref.digest, want.digest);
      assert.equal(ref.toString(), want.full);
      assert.equal(ref.familiarName(), want.familiar);
      assert.equal(ref.repository(), `${want.domain}/${want.path}`);
      assert.equal(ref.object(), want.digest ?? want.tag);
    });
  }

  it('keeps no tag when defaultTag is false', () => {
    const ref = parseReference('user/img', { defaultTag: false });
    assert.equal(ref.tag, undefined);
    assert.equal(ref.toString(), 'docker.io/user/img');
    assert.equal(ref.familiarName(), 'user/img');
  });

  it('round-trips its own string form', () => {
    for (const text of ['busybox', `a.b/c/d:e@${D}`, 'localhost:5000/x']) {
      const once = parseReference(text).toString();
      assert.equal(parseReference(once).toString(), once);
    }
  });
});

describe('parseReference: rejects', () => {
  const bad: [string, RegExp][] = [
    ['', /empty/],
    ['Busybox', /lowercase/],
    ['docker.io/User/img', /lowercase/],
    ['example.com/Img:tag', /lowercase/],
    ['busybox@sha256:abc', /digest/],
    [`busybox@sha512:${'a'.repeat(128)}`, /digest/],
    [`busybox@sha256:${'A'.repeat(64)}`, /digest/],
    ['busybox:', /tag/],
    ['busybox:-bad', /tag/],
    [`busybox:${'a'.repeat(129)}`, /tag/],
    ['a'.repeat(64), /image id/],
    ['x//y', /path component/],
    ['-x/y', /path component|domain/],
    ['docker.io/x_-y', /path component/],
    ['host.example:99999/x', /port/],
    ['host.example:abc/x', /tag|port/],
    ['bad_domain.com/x', /domain/],
    [' busybox', /whitespace/],
    ['x/' + 'a'.repeat(260), /longer/],
  ];
  for (const [input, reason] of bad) {
    it(JSON.stringify(input.length > 40 ? input.slice(0, 40) + '…' : input), () => {
      assert.throws(() => parseReference(input), (err: unknown) => {
        assert.ok(err instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${String(err)}`);
        assert.match(err.message, reason);
        assert.equal(err.code, 'INVALID_ARGUMENT');
        return true;
      });
    });
  }
});

describe('isDigest', () => {
  it('accepts only sha256 with 64 lowercase hex', () => {
    assert.equal(isDigest(D), true);
    assert.equal(isDigest(`sha256:${'a'.repeat(63)}`), false);
    assert.equal(isDigest(`sha256:${'g'.repeat(64)}`), false);
    assert.equal(isDigest(`sha256:${'A'.repeat(64)}`), false);
    assert.equal(isDigest('a'.repeat(64)), false);
    assert.equal(isDigest(`md5:${'a'.repeat(64)}`), false);
  });
});

describe('withDigest', () => {
  it('pins a tagged reference and validates the digest', () => {
    const ref = parseReference('busybox:1').withDigest(D);
    assert.equal(ref.toString(), `docker.io/library/busybox:1@${D}`);
    assert.throws(() => parseReference('busybox').withDigest('sha256:nope'), InvalidArgumentError);
  });
});
