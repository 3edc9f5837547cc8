import { createServer, type Server } from 'node:http';
import type { Express } from 'express';

/** Slow header dribbling (slowloris) is cut off after this; Node checks every second. */
const HEADERS_TIMEOUT_MS = 20_000;

/**
 * The HTTP server around the app. A healthy PATCH may stream for hours, so
 * there is no limit on a whole request (Node's default `requestTimeout` of
 * 300 s would kill it) and no socket timeout; the tus routes cut off a body
 * that goes silent instead (IDLE_TIMEOUT_SECONDS).
 */
export function createHttpServer(app: Express, headersTimeoutMs = HEADERS_TIMEOUT_MS): Server {
  const server = createServer(
    { requestTimeout: 0, headersTimeout: headersTimeoutMs, connectionsCheckingInterval: 1000 },
    app,
  );
  server.timeout = 0;
  return server;
}
