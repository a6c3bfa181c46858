/**
 * A CRI server that does no work: it answers each gRPC path with response
 * bytes recorded from a real daemon, over node:http2 directly (no grpc-js).
 * The bench times the same client against it to show the client's and the
 * transport's share of a list/status call: the floor under any server.
 *
 * `node dist/bench/replay-server.js <socket> <responses.json>`, where the JSON
 * maps a gRPC path to the base64 of its protobuf response; prints "ready".
 */
import { readFileSync, rmSync } from 'node:fs';
import http2 from 'node:http2';

function grpcFrame(message: Buffer): Buffer {
  const prefix = Buffer.alloc(5); // byte 0: not compressed; bytes 1-4: length
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

const [socket, responsesFile] = process.argv.slice(2);
if (!socket || !responsesFile) throw new Error('usage: replay-server.js <socket> <responses.json>');
const recorded = JSON.parse(readFileSync(responsesFile, 'utf8')) as Record<string, string>;
const frames = new Map(Object.entries(recorded).map(([path, b64]) => [path, grpcFrame(Buffer.from(b64, 'base64'))]));

rmSync(socket, { force: true });
const server = http2.createServer();
server.on('stream', (stream, headers) => {
  const frame = frames.get(String(headers[':path']));
  stream.resume(); // the request is read and ignored
  stream.on('end', () => {
    if (!frame) {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12', 'grpc-message': 'not recorded' }, { endStream: true });
      return;
    }
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(frame);
  });
});
server.listen(socket, () => process.stdout.write('ready\n'));
