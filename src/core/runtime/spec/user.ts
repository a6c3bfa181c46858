/**
 * Resolves the user a container runs as from the CRI security context, the
 * image's `User` and the image's /etc/passwd and /etc/group (read by the caller).
 * Pure: no filesystem access.
 */
import { InvalidArgumentError } from '../../errors.js';

export type SupplementalGroupsPolicy = 'Merge' | 'Strict';

export interface CriUser {
  /** run_as_user */
  uid?: number;
  /** run_as_username */
  username?: string;
  /** run_as_group */
  gid?: number;
}

export interface ResolveUserInput {
  criUser: CriUser;
  /** The image config's `User` ("", "1000", "name", "name:group", "1000:1000", "name:1003"). */
  imageUser: string;
  /** Text of the image's /etc/passwd, undefined when the image has none. */
  passwd: string | undefined;
  /** Text of the image's /etc/group, undefined when the image has none. */
  group: string | undefined;
  supplementalGroups: readonly number[];
  policy: SupplementalGroupsPolicy;
}

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Primary gid first, then groups from /etc/group (Merge only), then supplemental groups. */
  additionalGids: number[];
  username?: string;
}

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

const MAX_ID = 0xffffffff;

export function parsePasswd(text: string): PasswdEntry[] {
  const entries: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const fields = line.split(':');
    if (fields.length < 4) continue;
    const uid = parseId(fields[2]!);
    const gid = parseId(fields[3]!);
    if (uid === undefined || gid === undefined) continue;
    entries.push({ name: fields[0]!, uid, gid, home: fields[5] ?? '' });
  }
  return entries;
}

export function parseGroup(text: string): GroupEntry[] {
  const entries: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const fields = line.split(':');
    if (fields.length < 3) continue;
    const gid = parseId(fields[2]!);
    if (gid === undefined) continue;
    const members = (fields[3] ?? '').split(',').map((m) => m.trim()).filter((m) => m !== '');
    entries.push({ name: fields[0]!, gid, members });
  }
  return entries;
}

/** A decimal id in [0, 2^32-1], or undefined when `text` is not one. */
export function parseId(text: string): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) && n <= MAX_ID ? n : undefined;
}

export function resolveUser(input: ResolveUserInput): ResolvedUser {
  const users = input.passwd === undefined ? undefined : parsePasswd(input.passwd);
  const groups = input.group === undefined ? undefined : parseGroup(input.group);
  const { criUser } = input;

  // Like containerd: a CRI user (id or name) replaces the image's whole "user[:group]";
  // run_as_group only makes sense together with a user.
  let userPart: string;
  let groupPart: string | undefined;
  if (criUser.uid !== undefined || (criUser.username !== undefined && criUser.username !== '')) {
    userPart = criUser.uid !== undefined ? String(criUser.uid) : criUser.username!;
    groupPart = criUser.gid !== undefined ? String(criUser.gid) : undefined;
  } else if (criUser.gid !== undefined) {
    if (input.imageUser === '') {
      throw new InvalidArgumentError(`run_as_group ${criUser.gid} is set without run_as_user or run_as_username and the image sets no user`);
    }
    userPart = splitUserGroup(input.imageUser)[0];
    groupPart = String(criUser.gid);
  } else if (input.imageUser !== '') {
    [userPart, groupPart] = splitUserGroup(input.imageUser);
  } else {
    userPart = '0';
    groupPart = undefined;
  }

  const { uid, gid: passwdGid, username } = lookupUser(userPart, users);
  const gid = groupPart === undefined ? passwdGid : lookupGroup(groupPart, groups);

  const additional: number[] = [gid];
  if (input.policy === 'Merge' && username !== undefined && groups !== undefined) {
    for (const g of groups) {
      if (g.name !== username && g.members.includes(username)) additional.push(g.gid);
    }
  }
  for (const g of input.supplementalGroups) additional.push(g);
  const result: ResolvedUser = { uid, gid, additionalGids: dedupe(additional) };
  if (username !== undefined) result.username = username;
  return result;
}

function splitUserGroup(spec: string): [string, string | undefined] {
  const idx = spec.indexOf(':');
  if (idx < 0) return [spec, undefined];
  const user = spec.slice(0, idx);
  const group = spec.slice(idx + 1);
  if (user === '') throw new InvalidArgumentError(`image user "${spec}" has an empty user part`);
  return [user, group === '' ? undefined : group];
}

function lookupUser(userPart: string, users: PasswdEntry[] | undefined): { uid: number; gid: number; username?: string } {
  const numeric = parseId(userPart);
  if (numeric !== undefined) {
    const entry = users?.find((u) => u.uid === numeric);
    return entry ? { uid: numeric, gid: entry.gid, username: entry.name } : { uid: numeric, gid: 0 };
  }
  if (users === undefined) {
    throw new InvalidArgumentError(`cannot resolve user "${userPart}": the image has no /etc/passwd; use a numeric uid`);
  }
  const entry = users.find((u) => u.name === userPart);
  if (!entry) throw new InvalidArgumentError(`user "${userPart}" is not in the image's /etc/passwd`);
  return { uid: entry.uid, gid: entry.gid, username: entry.name };
}

function lookupGroup(groupPart: string, groups: GroupEntry[] | undefined): number {
  const numeric = parseId(groupPart);
  if (numeric !== undefined) return numeric;
  if (groups === undefined) {
    throw new InvalidArgumentError(`cannot resolve group "${groupPart}": the image has no /etc/group; use a numeric gid`);
  }
  const entry = groups.find((g) => g.name === groupPart);
  if (!entry) throw new InvalidArgumentError(`group "${groupPart}" is not in the image's /etc/group`);
  return entry.gid;
}

function dedupe(ids: number[]): number[] {
  return [...new Set(ids)];
}
