import { afterEach } from 'vitest';
import { createTestContext, type TestContext } from './context.js';

/**
 * Opens servers (test contexts) on demand, for tests that each pick their
 * own settings; every one is closed after the test that opened it.
 */
export function serversPerTest(): (env: Record<string, string>) => Promise<TestContext> {
  const open: TestContext[] = [];
  afterEach(async () => {
    for (const ctx of open.splice(0)) await ctx.close();
  });
  return async (env) => {
    const ctx = await createTestContext(env);
    open.push(ctx);
    return ctx;
  };
}
