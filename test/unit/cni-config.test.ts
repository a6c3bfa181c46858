import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { compareVersions, loadNetworkConfig, parseNetworkConfig, CniConfigError } from '../../src/cni/config.js';

const root = mkdtempSync(path.join(tmpdir(), 'berth-cni-config-'));
after(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
function confDir(files: Record<string, string | object>): string {
  const dir = path.join(root, `d${counter++}`);
  mkdirSync(dir);
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(path.join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

const list = (name: string) => ({ cniVersion: '1.0.0', name, plugins: [{ type: 'bridge' }, { type: 'portmap', capabilities: { portMappings: true } }] });

describe('loadNetworkConfig', () => {
  test('a missing directory gives a reason, no config', () => {
    const loaded = loadNetworkConfig(path.join(root, 'nope'));
    assert.equal(loaded.config, undefined);
    assert.match(loaded.reason ?? '', /does not exist/);
  });

  test('an empty directory gives a reason, no config', () => {
    const loaded = loadNetworkConfig(confDir({ 'README.md': 'not a config' }));
    assert.equal(loaded.config, undefined);
    assert.match(loaded.reason ?? '', /no valid network config/);
  });

  test('files are taken in name order, the first valid one wins', () => {
    const dir = confDir({ '20-b.conflist': list('b'), '10-a.conflist': list('a'), '30-c.conf': { cniVersion: '1.0.0', name: 'c', type: 'bridge' } });
    const loaded = loadNetworkConfig(dir);
    assert.equal(loaded.config?.name, 'a');
    assert.equal(loaded.config?.plugins.length, 2);
    assert.equal(loaded.config?.source, path.join(dir, '10-a.conflist'));
  });

  test('invalid files are skipped with their reasons', () => {
    const dir = confDir({
      '01-broken.conflist': '{ not json',
      '02-noplugins.conflist': { cniVersion: '1.0.0', name: 'x', plugins: [] },
      '03-notype.conflist': { cniVersion: '1.0.0', name: 'x', plugins: [{}] },
      '04-good.json': { cniVersion: '0.4.0', name: 'good', type: 'ptp' },
    });
    const loaded = loadNetworkConfig(dir);
    assert.equal(loaded.config?.name, 'good');
    assert.equal(loaded.skipped.length, 3);
    assert.match(loaded.skipped[0]!, /01-broken.conflist: not JSON/);
    assert.match(loaded.skipped[1]!, /"plugins" must be a non-empty array/);
    assert.match(loaded.skipped[2]!, /has no "type"/);
  });

  test('only invalid files: the reason names them', () => {
    const loaded = loadNetworkConfig(confDir({ 'a.conf': { name: 'x', type: 'bridge' } }));
    assert.equal(loaded.config, undefined);
    assert.match(loaded.reason ?? '', /a\.conf: "cniVersion"/);
  });
});

describe('parseNetworkConfig', () => {
  test('a single-plugin .conf is wrapped into a list keeping every field', () => {
    const conf = parseNetworkConfig(JSON.stringify({ cniVersion: '0.3.1', name: 'n', type: 'bridge', bridge: 'br9', ipam: { type: 'host-local' } }), '/x/n.conf');
    assert.equal(conf.name, 'n');
    assert.equal(conf.cniVersion, '0.3.1');
    assert.equal(conf.disableCheck, false);
    assert.equal(conf.plugins.length, 1);
    assert.equal(conf.plugins[0]!.type, 'bridge');
    assert.equal(conf.plugins[0]!.bridge, 'br9');
  });

  test('disableCheck is read from a list', () => {
    const conf = parseNetworkConfig(JSON.stringify({ ...list('n'), disableCheck: true }), 'n.conflist');
    assert.equal(conf.disableCheck, true);
  });

  test('a .conflist without plugins is rejected even if it has a type', () => {
    assert.throws(() => parseNetworkConfig(JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'bridge' }), 'n.conflist'), CniConfigError);
  });

  test('plugin types that would leave the bin dirs are rejected', () => {
    const bad = { cniVersion: '1.0.0', name: 'n', plugins: [{ type: '../../bin/sh' }] };
    assert.throws(() => parseNetworkConfig(JSON.stringify(bad), 'n.conflist'), /bare binary name/);
  });

  test('names that cannot be a cache file name are rejected', () => {
    assert.throws(() => parseNetworkConfig(JSON.stringify({ ...list('a/b') }), 'n.conflist'), /network name/);
  });

  test('capabilities must be booleans', () => {
    const bad = { cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'portmap', capabilities: { portMappings: 'yes' } }] };
    assert.throws(() => parseNetworkConfig(JSON.stringify(bad), 'n.conflist'), /capabilities/);
  });
});

test('compareVersions orders numerically', () => {
  assert.ok(compareVersions('0.4.0', '0.3.1') > 0);
  assert.ok(compareVersions('0.10.0', '0.4.0') > 0);
  assert.equal(compareVersions('1.0.0', '1.0.0'), 0);
  assert.ok(compareVersions('0.2.0', '0.4.0') < 0);
});
