/**
 * Seccomp and AppArmor selection from the CRI security context, following
 * containerd: privileged means neither; the `seccomp`/`apparmor` fields win over
 * the deprecated path strings; Localhost seccomp profiles are read by the caller.
 */
import { InvalidArgumentError } from '../../errors.js';
import type { SecurityProfile__Output } from '../../../gen/cri/runtime/v1/SecurityProfile.js';
import type { Seccomp } from './oci-types.js';
import { defaultSeccompProfile } from './seccomp-default.js';

export type ProfileChoice =
  | { kind: 'RuntimeDefault' }
  | { kind: 'Unconfined' }
  | { kind: 'Localhost'; ref: string };

const LOCALHOST_PREFIX = 'localhost/';

/** The deprecated `seccomp_profile_path` / `apparmor_profile` string forms. */
export function parseProfilePath(path: string, field: string): ProfileChoice | undefined {
  switch (path) {
    case '':
      return undefined;
    case 'runtime/default':
    case 'docker/default':
      return { kind: 'RuntimeDefault' };
    case 'unconfined':
      return { kind: 'Unconfined' };
    default:
      if (path.startsWith(LOCALHOST_PREFIX) && path.length > LOCALHOST_PREFIX.length) {
        return { kind: 'Localhost', ref: path.slice(LOCALHOST_PREFIX.length) };
      }
      throw new InvalidArgumentError(`${field} "${path}" is invalid: use runtime/default, unconfined or localhost/<path>`);
  }
}

export function fromSecurityProfile(profile: SecurityProfile__Output | null, field: string): ProfileChoice | undefined {
  if (!profile) return undefined;
  if (profile.profile_type !== 'Localhost' && profile.localhost_ref !== '') {
    throw new InvalidArgumentError(`${field}: localhost_ref may only be set when profile_type is Localhost`);
  }
  switch (profile.profile_type) {
    case 'RuntimeDefault':
      return { kind: 'RuntimeDefault' };
    case 'Unconfined':
      return { kind: 'Unconfined' };
    case 'Localhost':
      if (profile.localhost_ref === '') throw new InvalidArgumentError(`${field}: profile_type Localhost needs a localhost_ref`);
      // Tolerate the old prefix, as containerd does.
      return { kind: 'Localhost', ref: profile.localhost_ref.startsWith(LOCALHOST_PREFIX) ? profile.localhost_ref.slice(LOCALHOST_PREFIX.length) : profile.localhost_ref };
    default:
      throw new InvalidArgumentError(`${field}: unknown profile_type ${String(profile.profile_type)}`);
  }
}

export interface SeccompContext {
  seccomp: SecurityProfile__Output | null;
  seccomp_profile_path: string;
}

/** What the CRI asks for; `fallback` applies when it asks for nothing. */
export function seccompChoice(sc: SeccompContext | null, fallback: ProfileChoice): ProfileChoice {
  if (!sc) return fallback;
  return fromSecurityProfile(sc.seccomp, 'seccomp') ?? parseProfilePath(sc.seccomp_profile_path, 'seccomp_profile_path') ?? fallback;
}

/** Path of the Localhost seccomp profile the caller must load, if the context asks for one. */
export function seccompLocalhostPath(sc: SeccompContext | null): string | undefined {
  const choice = seccompChoice(sc, { kind: 'Unconfined' });
  return choice.kind === 'Localhost' ? choice.ref : undefined;
}

export interface SeccompInput {
  choice: ProfileChoice;
  privileged: boolean;
  seccompAvailable: boolean;
  boundingCaps: readonly string[];
  /** The parsed JSON of the Localhost profile, loaded by the caller. */
  localhostProfile?: Seccomp;
}

export function resolveSeccomp(input: SeccompInput): Seccomp | undefined {
  if (input.privileged) return undefined;
  const { choice } = input;
  if (!input.seccompAvailable) {
    if (choice.kind !== 'Unconfined') throw new InvalidArgumentError(`seccomp profile ${choice.kind} requested but seccomp is not available on this host`);
    return undefined;
  }
  switch (choice.kind) {
    case 'Unconfined':
      return undefined;
    case 'RuntimeDefault':
      return defaultSeccompProfile(input.boundingCaps);
    case 'Localhost':
      if (!input.localhostProfile) throw new InvalidArgumentError(`seccomp profile "${choice.ref}" was not loaded; the caller must read it`);
      return input.localhostProfile;
  }
}

export interface AppArmorContext {
  apparmor: SecurityProfile__Output | null;
  apparmor_profile: string;
}

export interface AppArmorInput {
  sc: AppArmorContext | null;
  privileged: boolean;
  available: boolean;
  /** Name of the loaded profile that stands for RuntimeDefault. */
  defaultProfile: string;
}

/**
 * The AppArmor profile to set, if any. Only when the host has AppArmor; then an
 * unset request means RuntimeDefault (kubernetes#51746), as in containerd.
 */
export function resolveAppArmor(input: AppArmorInput): string | undefined {
  const requested = input.sc
    ? fromSecurityProfile(input.sc.apparmor, 'apparmor') ?? parseProfilePath(input.sc.apparmor_profile, 'apparmor_profile')
    : undefined;
  if (!input.available) {
    if (requested?.kind === 'Localhost') {
      throw new InvalidArgumentError(`apparmor profile "${requested.ref}" requested but AppArmor is not available on this host`);
    }
    return undefined;
  }
  const choice = requested ?? { kind: 'RuntimeDefault' };
  switch (choice.kind) {
    case 'Unconfined':
      return undefined;
    case 'RuntimeDefault':
      return input.privileged ? undefined : input.defaultProfile;
    case 'Localhost':
      return choice.ref;
  }
}
