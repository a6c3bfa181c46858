/** The CRI façade's guards against hostile requests: decoding, status sizes, exec commands, timeouts, CIDRs. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { InvalidArgumentError } from '../../src/core/errors.js';
import { timeoutSecondsToMs, validateExecCommand } from '../../src/cri/exec-command.js';
import { MAX_DETAILS_LENGTH, toGrpcFailure } from '../../src/cri/grpc-errors.js';
import { loadCriProto } from '../../src/cri/proto.js';
import { MalformedRequest, tolerantDecoders } from '../../src/cri/request-decoding.js';
import { isCidr } from '../../src/cri/runtime-config-update.js';

describe('tolerantDecoders', () => {
  const service = tolerantDecoders(loadCriProto().runtime.v1.RuntimeService.service);
  const decode = (bytes: number[]) => service['ContainerStatus']!.requestDeserialize(Buffer.from(bytes));

  it('decodes valid requests as before', () => {
    const bytes = loadCriProto().runtime.v1.RuntimeService.service.ContainerStatus.requestSerialize({ container_id: 'abc' });
    assert.equal((service['ContainerStatus']!.requestDeserialize(bytes) as { container_id: string }).container_id, 'abc');
  });

  it('turns bytes protobuf cannot decode into a MalformedRequest instead of throwing', () => {
    // Wire type 7 (does not exist), a group start and a group end without their other half.
    for (const bytes of [[0x0f], [0x0b], [0x0c]]) {
      const decoded = decode(bytes);
      assert.ok(decoded instanceof MalformedRequest, JSON.stringify(decoded));
    }
  });
});

describe('toGrpcFailure', () => {
  it('bounds the status message, which travels in an HTTP/2 trailer', () => {
    const failure = toGrpcFailure(new InvalidArgumentError(`container "${'x'.repeat(1 << 20)}" not found`));
    assert.equal(failure.code, GrpcStatus.INVALID_ARGUMENT);
    assert.ok(failure.details.length < MAX_DETAILS_LENGTH + 100);
    assert.match(failure.details, /more characters\)$/);
  });

  it('reports a full disk or database as RESOURCE_EXHAUSTED, other unknown errors as INTERNAL', () => {
    const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    assert.equal(toGrpcFailure(enospc).code, GrpcStatus.RESOURCE_EXHAUSTED);
    assert.equal(toGrpcFailure(Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' })).code, GrpcStatus.RESOURCE_EXHAUSTED);
    assert.equal(toGrpcFailure(new TypeError('boom')).code, GrpcStatus.INTERNAL);
  });
});

describe('validateExecCommand', () => {
  it('accepts ordinary commands', () => {
    validateExecCommand(['sh', '-c', 'echo hi']);
  });

  it('refuses what execve cannot run: nothing, NUL bytes, oversized arguments', () => {
    assert.throws(() => validateExecCommand([]), InvalidArgumentError);
    assert.throws(() => validateExecCommand(['cat', 'a\0b']), /cmd\[1\] contains a NUL byte/);
    assert.throws(() => validateExecCommand(['echo', 'x'.repeat(200 * 1024)]), /more than the 131072/);
    assert.throws(() => validateExecCommand(Array.from({ length: 20 }, () => 'y'.repeat(100 * 1024))), /in all/);
  });
});

describe('timeoutSecondsToMs', () => {
  it('keeps ordinary timeouts, treats zero and negative as none, and caps what setTimeout cannot hold', () => {
    assert.equal(timeoutSecondsToMs('30'), 30_000);
    assert.equal(timeoutSecondsToMs(0), 0);
    assert.equal(timeoutSecondsToMs('-5'), 0);
    assert.equal(timeoutSecondsToMs('9223372036854775807'), 2 ** 31 - 1);
    assert.equal(timeoutSecondsToMs('NaN'), 0);
  });
});

describe('isCidr', () => {
  it('accepts IPv4 and IPv6 networks', () => {
    for (const cidr of ['10.234.0.0/16', '0.0.0.0/0', '192.168.1.0/32', 'fd00::/64', '::/0', '2001:db8::/128']) assert.ok(isCidr(cidr), cidr);
  });

  it('refuses impossible addresses and prefix lengths', () => {
    for (const cidr of ['999.1.1.1/8', '10.0.0.0/33', 'fe80::/129', '10.0.0.0', '10.0.0.0/', '/8', 'not-a-cidr', '10.0.0.0/-1', '10.0.0.0/1a']) {
      assert.equal(isCidr(cidr), false, cidr);
    }
  });
});
