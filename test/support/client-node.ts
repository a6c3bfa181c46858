import { finished } from 'node:stream/promises';
import { PassThrough, type Writable } from 'node:stream';
import { KubeConfig } from '@kubernetes/client-node';

/**
 * A KubeConfig that points @kubernetes/client-node's Exec, Attach and
 * PortForward at one CRI streaming URL.
 *
 * The library never takes a URL: it joins the cluster's server with the API
 * server's path, `<server>/api/v1/namespaces/NS/pods/POD/<verb>?<query>`.
 * berth's path is `/<verb>/<token>` and has to end there, so the server given
 * here is the CRI URL followed by '?': everything the library appends becomes
 * a query string, which berth ignores. Query parameters berth does read
 * (port-forward's `ports`) go before it.
 */
export function kubeConfigForStreamingUrl(url: string, options: { query?: Record<string, string>; ca?: Buffer } = {}): KubeConfig {
  const params = new URLSearchParams(options.query).toString();
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: 'berth',
        server: `${url}?${params ? `${params}&` : ''}`,
        // The library refuses http servers unless told to skip verification; https ones are verified against ca.
        skipTLSVerify: url.startsWith('http:'),
        caData: options.ca?.toString('base64'),
      },
    ],
    users: [{ name: 'berth' }],
    contexts: [{ name: 'berth', cluster: 'berth', user: 'berth' }],
    currentContext: 'berth',
  });
  return kc;
}

/** Everything written to a stream the library ends once the session's status arrives (or the test ends it). */
export function collect(stream: PassThrough): Promise<string> {
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  return finished(stream).then(() => text);
}

/**
 * What client-node takes for a terminal: a writable with rows and columns
 * that emits 'resize' (process.stdout on a TTY). The library sends its size
 * when the session starts and again on every resize.
 */
export class FakeTerminal extends PassThrough {
  rows = 24;
  columns = 80;
  text = '';

  constructor() {
    super();
    this.on('data', (chunk: Buffer) => (this.text += chunk.toString('utf8')));
  }

  resizeTo(columns: number, rows: number): void {
    this.columns = columns;
    this.rows = rows;
    this.emit('resize');
  }

  /** Resolves once the output matches; rejects if the stream ends first or nothing matches within limitMs. */
  waitFor(pattern: RegExp, limitMs = 30_000): Promise<void> {
    return waitForText(this, () => this.text, pattern, limitMs);
  }
}

export function waitForText(stream: Writable, text: () => string, pattern: RegExp, limitMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (pattern.test(text())) done();
    };
    const ended = (): void => {
      if (pattern.test(text())) done();
      else done(new Error(`the stream ended before its output matched ${pattern}: ${JSON.stringify(text())}`));
    };
    const timer = setTimeout(() => done(new Error(`output did not match ${pattern} within ${limitMs} ms: ${JSON.stringify(text())}`)), limitMs);
    const done = (err?: Error): void => {
      clearTimeout(timer);
      stream.off('data', check);
      stream.off('finish', ended);
      if (err) reject(err);
      else resolve();
    };
    stream.on('data', check);
    stream.once('finish', ended);
    check();
  });
}
