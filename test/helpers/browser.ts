import { type Browser, chromium, type Page } from 'playwright-core';

// The page's own globals, as the functions given to page.evaluate use them (they run in the page): declared for
// this module only, since the project's TypeScript has no DOM library.
type Box = { width: number };
type Node = {
  id: string;
  getAttribute(name: string): string | null;
  width: number;
  height: number;
  getContext(
    kind: '2d',
  ): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } } | null;
  getBoundingClientRect(): Box;
};
declare const document: {
  activeElement: Node | null;
  documentElement: { scrollWidth: number };
  getElementById(id: string): Node | null;
  querySelector(selector: string): Node | null;
  querySelectorAll(selector: string): Iterable<Node>;
};
declare const window: { innerWidth: number };
declare function getComputedStyle(node: Node): { outlineStyle: string };

/** Debian's Chromium (installed by .ci/run), driven by playwright-core: no browser download. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-dev-shm-usage',
    ],
  });
}

/** Slows the page's uploads to `bytesPerSecond` (-1: no limit), so that a test has time to act mid-upload. */
export async function throttleUploads(page: Page, bytesPerSecond: number): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: bytesPerSecond < 0 ? 0 : 5,
    downloadThroughput: -1,
    uploadThroughput: bytesPerSecond,
  });
}

/**
 * How many pixels of the canvases matching `selector` are `rgba`, each channel within `tolerance` (what a chart
 * drew in that colour: a line is opaque, an area fill translucent, on a transparent canvas).
 */
export function pixelsOfColour(
  page: Page,
  selector: string,
  rgba: [number, number, number, number],
  tolerance = 24,
): Promise<number> {
  return page.evaluate(
    ([sel, want, near]) => {
      let count = 0;
      for (const canvas of document.querySelectorAll(sel)) {
        const data = canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data ?? [];
        for (let i = 0; i < data.length; i += 4) {
          let close = true;
          for (let c = 0; c < 4 && close; c++) close = Math.abs((data[i + c] ?? 0) - (want[c] ?? 0)) <= near;
          if (close) count++;
        }
      }
      return count;
    },
    [selector, rgba, tolerance] as const,
  );
}

/** Whether the page is wider than its viewport (a phone would scroll sideways). */
export function overflowsSideways(page: Page): Promise<boolean> {
  return page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
}

/** The ID of the element that has the keyboard focus. */
export function focusedId(page: Page): Promise<string | undefined> {
  return page.evaluate(() => document.activeElement?.id);
}

/** The `data-id` of the element that has the keyboard focus (a dashboard row). */
export function focusedRow(page: Page): Promise<string | null | undefined> {
  return page.evaluate(() => document.activeElement?.getAttribute('data-id'));
}

/** The outline style of an element (how it shows the focus). */
export function outlineOf(page: Page, id: string): Promise<string | undefined> {
  return page.evaluate((of) => {
    const node = document.getElementById(of);
    return node ? getComputedStyle(node).outlineStyle : undefined;
  }, id);
}

/** The drawn width of the first element matching `selector`, in CSS pixels. */
export function widthOf(page: Page, selector: string): Promise<number | undefined> {
  return page.evaluate((sel) => document.querySelector(sel)?.getBoundingClientRect().width, selector);
}
