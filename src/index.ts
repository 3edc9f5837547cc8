/**
 * The library: what an Express application needs to run this upload server
 * in its own process. The standalone server (main.ts) is built from these same
 * exports. See docs/embedding.md for an example.
 */

export { type App, type AppDeps, createApp } from './app/create-app.js';
export { authorizerFromConfig, preCreateFromConfig } from './app/from-config.js';
export { type Uploads, wireUploads } from './app/wire-uploads.js';
export {
  type AccessGrant,
  type AccessIntent,
  type AccessRequest,
  type Authorizer,
  accessDenied,
  type Caller,
  chainAuthorizers,
} from './auth/authorizer.js';
export { jwtAuthorizer } from './auth/jwt-authorizer.js';
export { preRequestHook } from './auth/pre-request-hook.js';
export { UploadAccess } from './auth/upload-access.js';
export {
  type Config,
  ConfigError,
  loadConfig,
  type OwnerLimits,
  type WebhookConfig,
} from './config/load-config.js';
export { renderConfigReference } from './config/reference.js';
export { AppError, appError } from './errors/app-error.js';
export type { ErrorCode } from './errors/registry.js';
export {
  type PreCreateHook,
  type PreCreateRequest,
  type PreCreateResult,
  preCreateRefusal,
  preCreateWebhook,
} from './hooks/pre-create-hook.js';
export { createHttpServer } from './http/server.js';
export { createLogger, type Logger } from './log.js';
export { createRedisClient, describeConnectionFailure, type RedisClient } from './redis/client.js';
export { createKeys, type Keys, keysFor } from './redis/keys.js';
export { findRedis } from './redis/local-server.js';
export { RedisLocker } from './uploads/coordination/redis-locker.js';
export type { UploadEvent, UploadEventConsumer, UploadEvents } from './uploads/events/upload-events.js';
export type { UploadRecord, UploadStatus } from './uploads/model/upload-record.js';
export { UploadReader } from './uploads/read/upload-reader.js';
export { UploadTracker } from './uploads/state/tracker.js';
export { TrackedStore } from './uploads/store/tracked-store.js';
export { type Appended, type Body, type Creation, type OpenUpload, UploadStore } from './uploads/store/upload-store.js';
export { WebhookDispatcher } from './webhooks/dispatcher.js';
export {
  WEBHOOK_EVENT_TYPES,
  type WebhookEventType,
  type WebhookPayload,
  type WebhookUpload,
} from './webhooks/payload.js';
export { signatureHeader, verifySignature } from './webhooks/signature.js';
