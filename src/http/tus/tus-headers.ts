import type { IncomingMessage, ServerResponse } from 'node:http';
import { EXPOSED_HEADERS, TUS_RESUMABLE } from '@tus/utils';
import type { Config } from '../../config/load-config.js';
import type { Logger } from '../../log.js';
import { corsHeaders, settleUnreadBody } from '../endpoint/headers.js';
import { errorHeaders, toAppError } from '../errors.js';

/**
 * Headers for the responses this server writes itself on the tus routes (GET,
 * final uploads, early errors), the same as @tus/server puts on its own: CORS
 * (which stock @tus/server leaves off GET) and Tus-Resumable.
 */
export function tusResponseHeaders(req: IncomingMessage, config: Config): Record<string, string> {
  return {
    'Tus-Resumable': TUS_RESUMABLE,
    ...corsHeaders(req, config, `${EXPOSED_HEADERS}, Content-Disposition, Content-Range, Accept-Ranges`),
  };
}

/**
 * Answers a tus request with an error before (or instead of) @tus/server:
 * the same headers it would send, the error's own (WWW-Authenticate), and the
 * message as text. The body is not read: a small one is drained so the
 * connection can be reused, a large one ends with the connection.
 */
export function sendTusError(
  req: IncomingMessage,
  res: ServerResponse,
  error: unknown,
  config: Config,
  logger: Logger,
): void {
  const e = toAppError(error, logger);
  settleUnreadBody(req, res);
  if (!res.headersSent) {
    res.writeHead(e.status_code, {
      ...tusResponseHeaders(req, config),
      ...errorHeaders(e),
      'Content-Type': 'text/plain; charset=utf-8',
    });
  }
  res.end(e.body);
}
