import type { Setting } from './setting-types.js';
import { SETTINGS } from './settings.js';

/** What each group of settings is about, as the reference heads it. */
const GROUP_TITLES: Readonly<Record<keyof typeof SETTINGS, string>> = {
  server: 'HTTP server',
  redis: 'Redis',
  storage: 'Storage',
  uploads: 'Uploads',
  locks: 'Locks',
  sweeper: 'Sweeper',
  dashboard: 'Dashboard',
  auth: 'Authorization',
  hooks: 'Hooks',
  limits: 'Per-owner limits',
  webhooks: 'Webhooks',
};

function shown(fallback: string | undefined): string {
  if (fallback === undefined) return '(unset)';
  if (fallback === '') return '(empty)';
  return `\`${fallback}\``;
}

/**
 * The configuration reference (Markdown: a table per group), generated from
 * the settings so docs/configuration.md cannot drift from them.
 */
export function renderConfigReference(): string {
  const sections = Object.entries(SETTINGS).map(([group, settings]) => {
    const rows = (Object.values(settings) as Array<Setting<unknown>>).map(
      (s) => `| \`${s.env}\` | ${s.type.kind} | ${shown(s.fallback)} | ${s.description} |`,
    );
    const title = GROUP_TITLES[group as keyof typeof SETTINGS];
    return [`### ${title}`, '', '| Variable | Type | Default | Meaning |', '| --- | --- | --- | --- |', ...rows].join(
      '\n',
    );
  });
  return sections.join('\n\n');
}
