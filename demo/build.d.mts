/** Bundles the demo into `out` (dist/demo by default); resolves to that directory. */
export function buildDemo(out?: string): Promise<string>;
