/**
 * The library: what an Express application needs to run this upload server
 * in its own process. The standalone server (main.ts) is built from these same
 * exports. See the README's "Embedding" section for an example.
 */

export { type App, type AppDeps, createApp } from './app.js';
export { UploadAccess } from './auth/access.js';
export { authorizerFromConfig, preCreateFromConfig } from './auth/from-config.js';
export { jwtAuthorizer } from './auth/jwt.js';
export {
  type AccessGrant,
  type AccessIntent,
  type AccessRequest,
  type Authorizer,
  accessDenied,
  type Caller,
  chainAuthorizers,
} from './auth/types.js';
export {
  type Config,
  ConfigError,
  loadConfig,
  type OwnerLimits,
  renderConfigReference,
  type WebhookConfig,
} from './config.js';
export { AppError, type ErrorCode } from './errors.js';
export {
  type PreCreateHook,
  type PreCreateRequest,
  type PreCreateResult,
  preCreateRefusal,
  preCreateWebhook,
} from './hooks/pre-create.js';
export { preRequestHook } from './hooks/pre-request.js';
export { createHttpServer } from './http/server.js';
export { createLogger, type Logger } from './log.js';
export { createRedisClient, type RedisClient } from './redis/client.js';
export { createKeys, type Keys } from './redis/keys.js';
export { findRedis } from './redis/local-server.js';
export type { UploadEvent, UploadEventConsumer, UploadEvents } from './uploads/events.js';
export { RedisLocker } from './uploads/locker.js';
export { UploadReader } from './uploads/progress.js';
export type { UploadRecord, UploadStatus } from './uploads/record.js';
export { createUploadService, type UploadService } from './uploads/service.js';
export { TrackedStore } from './uploads/tracked-store.js';
export { UploadTracker } from './uploads/tracker.js';
export { WebhookDispatcher } from './webhooks/dispatcher.js';
export {
  WEBHOOK_EVENT_TYPES,
  type WebhookEventType,
  type WebhookPayload,
  type WebhookUpload,
} from './webhooks/payload.js';
export { signatureHeader, verifySignature } from './webhooks/signature.js';
