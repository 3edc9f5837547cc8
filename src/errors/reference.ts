import { ERROR_REGISTRY } from './registry.js';

/**
 * The error reference (a Markdown table), generated from the registry so
 * docs/errors.md cannot drift from it. Messages with parameters show them as
 * `{name}`.
 */
export function renderErrorReference(): string {
  // A parameter shown as {name}; as a list or a string it still reads as {name}.
  const placeholder = (name: string) =>
    Object.assign(new String(`{${name}}`), { join: () => `{${name}}`, slice: () => `{${name}}` });
  const placeholders = new Proxy({}, { get: (_target, name) => placeholder(String(name)) });
  const render = (message: (p: unknown) => string) => {
    try {
      return message(undefined);
    } catch {
      return message(placeholders);
    }
  };
  const rows = Object.entries(ERROR_REGISTRY).map(([code, entry]) => {
    const e = entry as { status: number | ((p: unknown) => number); when: string; message: (p: unknown) => string };
    const status = typeof e.status === 'number' ? String(e.status) : "the hook's";
    const message = render(e.message).replaceAll('|', '\\|');
    return `| \`${code}\` | ${status} | ${e.when.replaceAll('|', '\\|')} | ${message} |`;
  });
  return ['| Code | Status | When | Message |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
