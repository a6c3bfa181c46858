import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pullCredentialsFromAuth } from '../../src/cri/auth.js';

const creds = { username: 'u', password: 'p' };

/** The pull credentials of an AuthConfig carrying `creds`, with `server_address` when given. */
function pullCredentials(serverAddress?: string) {
  return pullCredentialsFromAuth({ ...creds, ...(serverAddress !== undefined ? { server_address: serverAddress } : {}) } as never)!;
}

describe('pullCredentialsFromAuth', () => {
  it('gives no credentials when the AuthConfig has none', () => {
    assert.equal(pullCredentialsFromAuth(null), undefined);
    assert.equal(pullCredentialsFromAuth({ server_address: 'r.example' } as never), undefined);
  });

  it('without server_address, hands them to every host (mirrors included)', () => {
    const pc = pullCredentials();
    assert.deepEqual(pc.forHost('mirror.local:5000'), creds);
    assert.deepEqual(pc.forHost('registry-1.docker.io'), creds);
  });

  it('with server_address, only to the host it names, as URL or host:port', () => {
    const url = pullCredentials('https://r.example:5000/v2/');
    assert.deepEqual(url.forHost('r.example:5000'), creds);
    assert.equal(url.forHost('r.example'), undefined);
    assert.equal(url.forHost('mirror.local:5000'), undefined);
    const bare = pullCredentials('r.example:5000');
    assert.deepEqual(bare.forHost('r.example:5000'), creds);
    assert.equal(bare.forHost('other.example:5000'), undefined);
  });

  it('treats Docker Hub index URL credentials as the Hub registry endpoint\'s', () => {
    const hub = pullCredentials('https://index.docker.io/v1/');
    assert.deepEqual(hub.forHost('registry-1.docker.io'), creds);
    assert.equal(hub.forHost('quay.io'), undefined);
  });

  it('keys requests by credentials and server address, so only equal requests share a pull', () => {
    const a = pullCredentials();
    const b = pullCredentials('r.example');
    const c = pullCredentials();
    assert.notEqual(a.key, b.key);
    assert.equal(a.key, c.key);
  });
});
