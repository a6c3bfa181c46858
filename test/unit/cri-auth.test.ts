import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pullCredentialsFromAuth } from '../../src/cri/auth.js';

const creds = { username: 'u', password: 'p' };

describe('pullCredentialsFromAuth', () => {
  it('gives no credentials when the AuthConfig has none', () => {
    assert.equal(pullCredentialsFromAuth(null), undefined);
    assert.equal(pullCredentialsFromAuth({ server_address: 'r.example' } as never), undefined);
  });

  it('without server_address, hands them to every host (mirrors included)', () => {
    const pc = pullCredentialsFromAuth({ username: 'u', password: 'p' } as never)!;
    assert.deepEqual(pc.forHost('mirror.local:5000'), creds);
    assert.deepEqual(pc.forHost('registry-1.docker.io'), creds);
  });

  it('with server_address, only to the host it names, as URL or host:port', () => {
    const url = pullCredentialsFromAuth({ username: 'u', password: 'p', server_address: 'https://r.example:5000/v2/' } as never)!;
    assert.deepEqual(url.forHost('r.example:5000'), creds);
    assert.equal(url.forHost('r.example'), undefined);
    assert.equal(url.forHost('mirror.local:5000'), undefined);
    const bare = pullCredentialsFromAuth({ username: 'u', password: 'p', server_address: 'r.example:5000' } as never)!;
    assert.deepEqual(bare.forHost('r.example:5000'), creds);
    assert.equal(bare.forHost('other.example:5000'), undefined);
  });

  it('treats Docker Hub index URL credentials as the Hub registry endpoint\'s', () => {
    const hub = pullCredentialsFromAuth({ username: 'u', password: 'p', server_address: 'https://index.docker.io/v1/' } as never)!;
    assert.deepEqual(hub.forHost('registry-1.docker.io'), creds);
    assert.equal(hub.forHost('quay.io'), undefined);
  });

  it('keys requests by credentials and server address, so only equal requests share a pull', () => {
    const a = pullCredentialsFromAuth({ username: 'u', password: 'p' } as never)!;
    const b = pullCredentialsFromAuth({ username: 'u', password: 'p', server_address: 'r.example' } as never)!;
    const c = pullCredentialsFromAuth({ username: 'u', password: 'p' } as never)!;
    assert.notEqual(a.key, b.key);
    assert.equal(a.key, c.key);
  });
});
