import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The files that take most of a minute, slowest first. They start the run, in
 * parallel with the rest: started last (vitest runs its projects one after
 * the other, and on a fresh clone it has no timings to sort by), each would
 * end the run alone.
 */
const SLOWEST = [
  'test/e2e/s3-chaos.test.ts',
  'test/e2e/azure-chaos.test.ts',
  'test/e2e/chaos.test.ts',
  'test/e2e/main.test.ts',
];

/** vitest's order (failed first, then longest first, by its cache), but the slowest files first whatever their project. */
export default class SlowestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (spec: TestSpecification) => {
      const at = SLOWEST.findIndex((file) => spec.moduleId.endsWith(`/${file}`));
      return at < 0 ? SLOWEST.length : at;
    };
    return [...(await super.sort(files))].sort((a, b) => rank(a) - rank(b));
  }
}
