export interface SpecResult {
  name: string;
  state: 'passed' | 'failed' | 'skipped';
}

function unescapeXml(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#x([0-9a-fA-F]+);/g, (_, h: string) => String.fromCodePoint(Number.parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&amp;/g, '&');
}

/** Spec results from ginkgo's JUnit report (setup/teardown nodes left out). */
export function parseJUnit(xml: string): SpecResult[] {
  const out: SpecResult[] = [];
  const re = /<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g;
  for (const m of xml.matchAll(re)) {
    const attrs = m[1] ?? '';
    const body = m[3] ?? '';
    const name = /\bname="([^"]*)"/.exec(attrs)?.[1];
    if (!name) continue;
    const clean = unescapeXml(name).replace(/^\[It\]\s*/, '').trim();
    if (/^\[(BeforeSuite|AfterSuite|SynchronizedBeforeSuite|SynchronizedAfterSuite|DeferCleanup|ReportAfterSuite)\]/.test(clean)) continue;
    const status = /\bstatus="([^"]*)"/.exec(attrs)?.[1];
    const state: SpecResult['state'] =
      /<(failure|error)\b/.test(body) || status === 'failed' || status === 'panicked' || status === 'timedout'
        ? 'failed'
        : /<skipped\b/.test(body) || status === 'skipped' || status === 'pending'
          ? 'skipped'
          : 'passed';
    out.push({ name: clean, state });
  }
  return out;
}
