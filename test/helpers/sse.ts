import { waitFor as poll } from './wait.js';

/** A Server-Sent Events client for tests: collects events, and waits for one that matches. */
export type SseEvent = { event: string; id: string; data: unknown };

export function openEvents(url: string, headers: Record<string, string> = {}) {
  const events: SseEvent[] = [];
  const controller = new AbortController();
  let status = 0;
  const ready = (async () => {
    const res = await fetch(url, { headers, signal: controller.signal });
    status = res.status;
    if (!res.ok || !res.body) return;
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = Object.fromEntries(
            block
              .split('\n')
              .filter((line) => line && !line.startsWith(':'))
              .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trimStart()]),
          );
          if (fields.data !== undefined)
            events.push({ event: fields.event ?? 'message', id: fields.id ?? '', data: JSON.parse(fields.data) });
          end = buffer.indexOf('\n\n');
        }
      }
    } catch {
      // closed
    }
  })();
  return {
    events,
    get status() {
      return status;
    },
    waitFor(match: (e: SseEvent) => boolean, timeoutMs = 5000): Promise<SseEvent> {
      return poll(() => events.find(match), {
        timeoutMs,
        what: () => `a matching event in ${JSON.stringify(events.map((e) => e.event))}`,
      });
    },
    async close() {
      controller.abort();
      await ready.catch(() => {});
    },
  };
}
