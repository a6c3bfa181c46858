/**
 * A Localhost seccomp profile file, read as containerd reads one: the JSON of
 * the OCI `linux.seccomp` object. Fields the OCI spec does not define are
 * dropped; a malformed profile is refused before it can reach runc.
 */
import { InvalidArgumentError } from '../../errors.js';
import type { Seccomp, SeccompAction, SeccompArg, SeccompOperator, SeccompSyscall } from './oci-types.js';

const ACTIONS: ReadonlySet<string> = new Set<SeccompAction>([
  'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP', 'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE', 'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_NOTIFY',
]);
const OPERATORS: ReadonlySet<string> = new Set<SeccompOperator>([
  'SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ',
]);

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}

function isUint(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

/** Parses the text of a profile file; `source` names it in errors. */
export function parseSeccompProfile(text: string, source: string): Seccomp {
  const fail = (what: string): never => {
    throw new InvalidArgumentError(`seccomp profile ${source}: ${what}`);
  };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return fail(`not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(json)) return fail('must be a JSON object');
  const action = (v: unknown, where: string): SeccompAction => {
    if (typeof v !== 'string' || !ACTIONS.has(v)) fail(`${where} ${JSON.stringify(v)} is not a seccomp action (SCMP_ACT_...)`);
    return v as SeccompAction;
  };
  const errno = (v: unknown, where: string): number | undefined => {
    if (v === undefined || v === null) return undefined;
    if (!isUint(v)) fail(`${where} must be a non-negative integer`);
    return v as number;
  };
  const profile: Seccomp = { defaultAction: action(json.defaultAction, 'defaultAction') };
  const defaultErrno = errno(json.defaultErrnoRet, 'defaultErrnoRet');
  if (defaultErrno !== undefined) profile.defaultErrnoRet = defaultErrno;
  for (const key of ['architectures', 'flags'] as const) {
    const value = json[key];
    if (value === undefined || value === null) continue;
    if (!isStringArray(value)) fail(`${key} must be a list of strings`);
    profile[key] = [...(value as string[])];
  }
  if (json.syscalls !== undefined && json.syscalls !== null) {
    if (!Array.isArray(json.syscalls)) fail('syscalls must be a list');
    profile.syscalls = (json.syscalls as unknown[]).map((raw, i): SeccompSyscall => {
      const where = `syscalls[${i}]`;
      if (!isObject(raw)) return fail(`${where} must be an object`);
      if (!isStringArray(raw.names) || raw.names.length === 0) fail(`${where}.names must be a non-empty list of syscall names`);
      const rule: SeccompSyscall = { names: [...(raw.names as string[])], action: action(raw.action, `${where}.action`) };
      const ret = errno(raw.errnoRet, `${where}.errnoRet`);
      if (ret !== undefined) rule.errnoRet = ret;
      if (raw.args !== undefined && raw.args !== null) {
        if (!Array.isArray(raw.args)) fail(`${where}.args must be a list`);
        rule.args = (raw.args as unknown[]).map((a, j): SeccompArg => {
          const at = `${where}.args[${j}]`;
          if (!isObject(a) || !isUint(a.index) || !isUint(a.value)) return fail(`${at} needs a numeric index and value`);
          if (typeof a.op !== 'string' || !OPERATORS.has(a.op)) return fail(`${at}.op ${JSON.stringify(a.op)} is not a comparison (SCMP_CMP_...)`);
          const arg: SeccompArg = { index: a.index, value: a.value, op: a.op as SeccompOperator };
          if (a.valueTwo !== undefined) {
            if (!isUint(a.valueTwo)) fail(`${at}.valueTwo must be a non-negative integer`);
            arg.valueTwo = a.valueTwo as number;
          }
          return arg;
        });
      }
      return rule;
    });
  }
  return profile;
}
