import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { rejectUpgrade } from '../http-util.js';
import { ACCEPTED_PROTOCOLS_HEADER, STREAM_PROTOCOL_HEADER, negotiate, splitHeaderList } from '../protocols.js';
import { SpdySession } from './session.js';

export const SPDY_UPGRADE_TOKEN = 'SPDY/3.1';

export function isSpdyUpgrade(req: IncomingMessage): boolean {
  const upgrade = req.headers.upgrade ?? '';
  const connection = req.headers.connection ?? '';
  return upgrade.toLowerCase() === SPDY_UPGRADE_TOKEN.toLowerCase() && connection.toLowerCase().split(/\s*,\s*/).includes('upgrade');
}

/**
 * Completes the Kubernetes SPDY upgrade: negotiates X-Stream-Protocol-Version
 * (client preference order), answers 101 and hands the socket to a server
 * SPDY session. On failure the client gets 400/403 with the reason and
 * undefined is returned.
 */
export function acceptSpdyUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  serverProtocols: readonly string[],
): { session: SpdySession; protocol: string } | undefined {
  const offered = splitHeaderList(req.headersDistinct[STREAM_PROTOCOL_HEADER]);
  if (offered.length === 0) {
    rejectUpgrade(socket, 400, `unable to upgrade: ${STREAM_PROTOCOL_HEADER} is required`);
    return undefined;
  }
  const protocol = negotiate(offered, serverProtocols);
  if (!protocol) {
    rejectUpgrade(
      socket,
      403,
      `unable to upgrade: unable to negotiate protocol: client supports [${offered.join(' ')}], server accepts [${serverProtocols.join(' ')}]`,
      { [ACCEPTED_PROTOCOLS_HEADER]: [...serverProtocols] },
    );
    return undefined;
  }
  socket.write(
    [
      'HTTP/1.1 101 Switching Protocols',
      'Connection: Upgrade',
      `Upgrade: ${SPDY_UPGRADE_TOKEN}`,
      `X-Stream-Protocol-Version: ${protocol}`,
      '',
      '',
    ].join('\r\n'),
  );
  const session = new SpdySession(socket, { isServer: true });
  session.feed(head);
  return { session, protocol };
}
