import type { IncomingHttpHeaders } from 'node:http';
import { metadataFromPreCreate, type PreCreateHook } from '../../hooks/pre-create-hook.js';
import type { RequestInput } from './request-frame.js';

type Creation = Readonly<{
  upload: Readonly<{ id: string; size: number | undefined; metadata: Record<string, string | null> | undefined }>;
  method: string;
  /** The request's path. */
  url: string;
  headers: IncomingHttpHeaders;
}>;

/**
 * The metadata an upload is created with once the pre-create hook (if any)
 * has seen it: the one place both protocols' creations ask it (it may refuse
 * by throwing). Partial uploads are told apart; a final upload (tus
 * concatenation) asks the hook in tus/final-upload.ts, before its ID exists.
 */
export async function metadataForCreation(
  preCreate: PreCreateHook | undefined,
  input: RequestInput,
  { upload, method, url, headers }: Creation,
): Promise<Record<string, string | null> | undefined> {
  if (!preCreate) return upload.metadata;
  const request = {
    upload: {
      id: upload.id,
      size: upload.size,
      metadata: upload.metadata ?? {},
      owner: input.caller.owner,
      concat: input.partial ? ('partial' as const) : undefined,
    },
    method,
    url,
    headers,
  };
  return metadataFromPreCreate(preCreate, request, upload.metadata);
}
