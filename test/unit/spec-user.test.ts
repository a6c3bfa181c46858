import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolveUser, type ResolveUserInput } from '../../src/core/runtime/spec/user.js';
import { InvalidArgumentError } from '../../src/core/errors.js';

// The users and groups of critest's test images.
const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin',
  'default-user:x:1000:1000::/home/default-user:/bin/sh',
  'test-user:x:1002:1002::/home/test-user:/bin/sh',
].join('\n');
const GROUP = [
  'root:x:0:',
  'www-data:x:33:',
  'default-user:x:1000:',
  'test-user:x:1002:',
  'group-defined-in-image:x:50000:default-user',
  'staff:x:50:www-data,test-user',
].join('\n');

function input(overrides: Partial<ResolveUserInput>): ResolveUserInput {
  return { criUser: {}, imageUser: '', passwd: PASSWD, group: GROUP, supplementalGroups: [], policy: 'Merge', ...overrides };
}

describe('resolveUser', () => {
  const cases: Array<{ name: string; in: Partial<ResolveUserInput>; uid: number; gid: number; gids: number[]; username?: string }> = [
    { name: 'no user at all is root', in: {}, uid: 0, gid: 0, gids: [0], username: 'root' },
    { name: 'image uid 1002 takes its gid from passwd', in: { imageUser: '1002' }, uid: 1002, gid: 1002, gids: [1002, 50], username: 'test-user' },
    { name: 'image name www-data', in: { imageUser: 'www-data' }, uid: 33, gid: 33, gids: [33, 50], username: 'www-data' },
    { name: 'image 1003:1003 not in passwd', in: { imageUser: '1003:1003' }, uid: 1003, gid: 1003, gids: [1003] },
    { name: 'image www-data:www-data', in: { imageUser: 'www-data:www-data' }, uid: 33, gid: 33, gids: [33, 50], username: 'www-data' },
    { name: 'image name:1003', in: { imageUser: 'www-data:1003' }, uid: 33, gid: 1003, gids: [1003, 50], username: 'www-data' },
    { name: 'image 1000 is a member of group-defined-in-image', in: { imageUser: '1000' }, uid: 1000, gid: 1000, gids: [1000, 50000], username: 'default-user' },
    { name: 'numeric uid unknown to passwd gets gid 0', in: { imageUser: '4242' }, uid: 4242, gid: 0, gids: [0] },
    { name: 'run_as_user overrides the image user and its group', in: { imageUser: '1003:1003', criUser: { uid: 1002 } }, uid: 1002, gid: 1002, gids: [1002, 50], username: 'test-user' },
    { name: 'run_as_username resolved through passwd', in: { criUser: { username: 'www-data' } }, uid: 33, gid: 33, gids: [33, 50], username: 'www-data' },
    { name: 'run_as_user + run_as_group', in: { criUser: { uid: 1000, gid: 2000 } }, uid: 1000, gid: 2000, gids: [2000, 50000], username: 'default-user' },
    { name: 'run_as_group alone applies to the image user', in: { imageUser: 'www-data:www-data', criUser: { gid: 7 } }, uid: 33, gid: 7, gids: [7, 50], username: 'www-data' },
    { name: 'supplemental groups are appended, deduplicated', in: { imageUser: '1000', supplementalGroups: [1234, 50000, 5678] }, uid: 1000, gid: 1000, gids: [1000, 50000, 1234, 5678], username: 'default-user' },
    { name: 'Strict ignores /etc/group membership', in: { imageUser: '1000', supplementalGroups: [1234], policy: 'Strict' }, uid: 1000, gid: 1000, gids: [1000, 1234], username: 'default-user' },
    { name: 'no passwd with a numeric user', in: { imageUser: '1000:1000', passwd: undefined, group: undefined }, uid: 1000, gid: 1000, gids: [1000] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const user = resolveUser(input(c.in));
      assert.equal(user.uid, c.uid);
      assert.equal(user.gid, c.gid);
      assert.deepEqual(user.additionalGids, c.gids);
      assert.equal(user.username, c.username);
    });
  }

  const errors: Array<{ name: string; in: Partial<ResolveUserInput>; match: RegExp }> = [
    { name: 'unknown image user name', in: { imageUser: 'nobody-here' }, match: /"nobody-here" is not in the image's \/etc\/passwd/ },
    { name: 'unknown run_as_username', in: { criUser: { username: 'ghost' } }, match: /"ghost"/ },
    { name: 'unknown group name', in: { imageUser: '1000:ghosts' }, match: /group "ghosts"/ },
    { name: 'named user without passwd', in: { imageUser: 'www-data', passwd: undefined }, match: /no \/etc\/passwd/ },
    { name: 'run_as_group without any user', in: { criUser: { gid: 5 } }, match: /run_as_group 5/ },
  ];
  for (const c of errors) {
    it(`rejects: ${c.name}`, () => {
      assert.throws(() => resolveUser(input(c.in)), (err: unknown) => err instanceof InvalidArgumentError && c.match.test(err.message));
    });
  }
});
