/** The signal that stops a container: CRI stop_signal, else the image's StopSignal, else SIGTERM. */
import { InvalidArgumentError } from '../../errors.js';
import type { ImageConfig } from '../../images/manifest.js';
import type { Signal__Output } from '../../../gen/cri/runtime/v1/Signal.js';

export const DEFAULT_STOP_SIGNAL = 'SIGTERM';

// Linux x86/arm signal numbers.
const SIGNAL_NUMBERS: Readonly<Record<string, number>> = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGIOT: 6, SIGBUS: 7, SIGFPE: 8, SIGKILL: 9,
  SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15, SIGSTKFLT: 16, SIGCHLD: 17,
  SIGCLD: 17, SIGCONT: 18, SIGSTOP: 19, SIGTSTP: 20, SIGTTIN: 21, SIGTTOU: 22, SIGURG: 23, SIGXCPU: 24,
  SIGXFSZ: 25, SIGVTALRM: 26, SIGPROF: 27, SIGWINCH: 28, SIGIO: 29, SIGPOLL: 29, SIGPWR: 30, SIGSYS: 31,
};
const SIGRTMIN = 34;
const SIGRTMAX = 64;

/** Canonical name ("SIGKILL", "SIGRTMIN+3") of a name with or without SIG, or a number. */
export function normalizeSignal(signal: string): string {
  const text = signal.trim().toUpperCase();
  if (/^\d+$/.test(text)) return signalName(Number(text), signal);
  const name = text.startsWith('SIG') ? text : `SIG${text}`;
  if (name in SIGNAL_NUMBERS) return name;
  const rt = /^SIGRT(MIN|MAX)(?:([+-])(\d+))?$/.exec(name);
  if (rt) {
    const base = rt[1] === 'MIN' ? SIGRTMIN : SIGRTMAX;
    const offset = rt[3] === undefined ? 0 : Number(rt[3]) * (rt[2] === '-' ? -1 : 1);
    return signalName(base + offset, signal);
  }
  throw new InvalidArgumentError(`unknown signal "${signal}"`);
}

/** The number of a canonical or loose signal name. */
export function signalNumber(signal: string): number {
  const name = normalizeSignal(signal);
  const known = SIGNAL_NUMBERS[name];
  if (known !== undefined) return known;
  const rt = /^SIGRT(MIN|MAX)(?:([+-])(\d+))?$/.exec(name)!;
  const base = rt[1] === 'MIN' ? SIGRTMIN : SIGRTMAX;
  return base + (rt[3] === undefined ? 0 : Number(rt[3]) * (rt[2] === '-' ? -1 : 1));
}

function signalName(n: number, original: string): string {
  for (const [name, num] of Object.entries(SIGNAL_NUMBERS)) if (num === n) return name;
  if (n >= SIGRTMIN && n <= SIGRTMAX) {
    const fromMin = n - SIGRTMIN;
    const fromMax = SIGRTMAX - n;
    if (fromMin === 0) return 'SIGRTMIN';
    if (fromMax === 0) return 'SIGRTMAX';
    return fromMin <= fromMax ? `SIGRTMIN+${fromMin}` : `SIGRTMAX-${fromMax}`;
  }
  throw new InvalidArgumentError(`unknown signal "${original}"`);
}

/** CRI enum value (e.g. SIGRTMINPLUS1) as a signal name; undefined for RUNTIME_DEFAULT. */
export function criSignalName(signal: Signal__Output): string | undefined {
  if (signal === 'RUNTIME_DEFAULT') return undefined;
  const rt = /^SIGRT(MIN|MAX)(PLUS|MINUS)(\d+)$/.exec(signal);
  if (rt) return normalizeSignal(`SIGRT${rt[1]}${rt[2] === 'PLUS' ? '+' : '-'}${rt[3]}`);
  return normalizeSignal(signal);
}

export function stopSignal(imageConfig: Pick<ImageConfig, 'config'> | undefined, criConfig: { stop_signal: Signal__Output } | undefined): string {
  const fromCri = criConfig ? criSignalName(criConfig.stop_signal) : undefined;
  if (fromCri !== undefined) return fromCri;
  const fromImage = imageConfig?.config.StopSignal;
  if (fromImage !== undefined && fromImage.trim() !== '') return normalizeSignal(fromImage);
  return DEFAULT_STOP_SIGNAL;
}
