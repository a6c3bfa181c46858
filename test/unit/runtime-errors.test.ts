import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FailedPreconditionError, NotFoundError } from '../../src/core/errors.js';
import { conmonArgs, parseSyncMessage } from '../../src/core/runtime/conmon.js';
import { OciRuntimeError, runtimeErrorMessage, runtimeFailure } from '../../src/core/runtime/runtime-errors.js';
import { RuncRuntime } from '../../src/core/runtime/oci-runtime.js';

describe('runtimeErrorMessage', () => {
  it('keeps the error entries of runc JSON logs', () => {
    const stderr = [
      '{"level":"warning","msg":"some warning","time":"2024-01-01T00:00:00Z"}',
      '{"level":"error","msg":"runc create failed: unable to start container process: exec: \\"x\\": executable file not found in $PATH","time":"2024-01-01T00:00:00Z"}',
      '',
    ].join('\n');
    assert.equal(runtimeErrorMessage(stderr), 'runc create failed: unable to start container process: exec: "x": executable file not found in $PATH');
  });

  it('falls back to plain text and warnings, without duplicates', () => {
    assert.equal(runtimeErrorMessage('crun: container `a` does not exist\n'), 'crun: container `a` does not exist');
    assert.equal(runtimeErrorMessage('{"level":"warning","msg":"w"}\n{"level":"info","msg":"w"}'), 'w');
    assert.equal(runtimeErrorMessage(''), '');
  });
});

describe('runtimeFailure', () => {
  const cmd = ['runc', 'kill', 'x'];
  it('maps unknown containers to NotFoundError', () => {
    const err = runtimeFailure('runc', 'kill', 'x', cmd, 1, '{"level":"error","msg":"container does not exist"}');
    assert.ok(err instanceof NotFoundError);
    assert.match(err.message, /container x not found by runc/);
  });

  it('maps wrong states to FailedPreconditionError', () => {
    const err = runtimeFailure('runc', 'kill', 'x', cmd, 1, '{"level":"error","msg":"container not running"}');
    assert.ok(err instanceof FailedPreconditionError);
    assert.equal(err.message, 'runc kill x failed: container not running');
  });

  it('keeps everything else as OciRuntimeError with the command and stderr', () => {
    const err = runtimeFailure('runc', 'update', 'x', cmd, 2, 'invalid memory value\n');
    assert.ok(err instanceof OciRuntimeError);
    assert.equal(err.message, 'runc update x failed: invalid memory value');
    assert.deepEqual(err.command, cmd);
    assert.equal(err.exitCode, 2);
  });

  it('says the exit status when the runtime printed nothing', () => {
    assert.equal(runtimeFailure('runc', 'start', 'x', cmd, 7, '').message, 'runc start x failed: exit status 7');
  });
});

describe('parseSyncMessage', () => {
  it('reads the pid (api 0) or data (api 1) key', () => {
    assert.deepEqual(parseSyncMessage('{"pid": 1234}'), { pid: 1234 });
    assert.deepEqual(parseSyncMessage('{"data": 99}'), { pid: 99 });
  });

  it('reads a failure with its message', () => {
    assert.deepEqual(parseSyncMessage('{"pid": -1, "message": "boom \\"x\\""}'), { pid: -1, message: 'boom "x"' });
  });

  it('survives an unescaped message', () => {
    const parsed = parseSyncMessage('{"pid": -1, "message": "bad "quote" here"}');
    assert.equal(parsed.pid, -1);
    assert.equal(parsed.message, 'bad "quote" here');
  });
});

describe('conmonArgs', () => {
  it('passes the runtime global flags, files and stdio options', () => {
    const runtime = new RuncRuntime({ path: '/usr/sbin/runc', root: '/run/berth/runc', systemdCgroup: true });
    const args = conmonArgs(
      {
        id: 'abc',
        bundle: '/b',
        runtime,
        exitDir: '/e',
        persistDir: '/p',
        socketDir: '/s',
        logPath: '/l/c.log',
        stdin: true,
        leaveStdinOpen: true,
        terminal: true,
        exitCommand: ['/bin/berthctl', 'exited', 'abc'],
      },
      '/usr/sbin/runc',
    );
    const value = (flag: string): string | undefined => args[args.indexOf(flag) + 1];
    assert.equal(value('--cid'), 'abc');
    assert.equal(value('--runtime'), '/usr/sbin/runc');
    assert.equal(value('--container-pidfile'), '/p/pidfile');
    assert.equal(value('--conmon-pidfile'), '/p/conmon.pid');
    assert.equal(value('--log-path'), '/l/c.log');
    assert.ok(args.includes('--runtime-arg=--root=/run/berth/runc'));
    assert.ok(args.includes('--runtime-arg=--systemd-cgroup'));
    assert.ok(args.includes('--terminal') && args.includes('--stdin') && args.includes('--leave-stdin-open'));
    assert.equal(value('--exit-command'), '/bin/berthctl');
    assert.ok(args.includes('--exit-command-arg=exited') && args.includes('--exit-command-arg=abc'));
  });

  it('does not leave stdin open without --stdin', () => {
    const args = conmonArgs(
      { id: 'a', bundle: '/b', runtime: new RuncRuntime({ root: '/r' }), exitDir: '/e', persistDir: '/p', socketDir: '/s', logPath: '/l', leaveStdinOpen: true },
      '/usr/sbin/runc',
    );
    assert.ok(!args.includes('--leave-stdin-open') && !args.includes('--stdin') && !args.includes('--terminal'));
  });
});
