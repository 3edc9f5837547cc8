import type { RequestHandler } from 'express';
import { draftProtocol } from './draft/draft-protocol.js';
import { speaksDraft } from './draft/interop.js';
import { type FrameDeps, serveInFrame } from './endpoint/request-frame.js';
import { type TusDeps, tusProtocol } from './tus/tus-protocol.js';

/**
 * Express handler for the upload endpoint (`TUS_PATH` and the upload URLs
 * under it). A request that carries Upload-Draft-Interop-Version speaks the
 * IETF draft (http/draft); any other speaks tus 1.0 (http/tus). Both are
 * served in the same frame (see serveInFrame), against the same UploadStore;
 * neither protocol imports the other, and what they share is in http/endpoint.
 */
export function uploadEndpoint(deps: TusDeps & FrameDeps): RequestHandler {
  const tus = tusProtocol(deps);
  const draft = draftProtocol(deps);
  return (req, res) => {
    // The path as a WHATWG URL parser normalizes it, so that every part of the server names the same upload.
    const pathname = new URL(req.url, 'http://host').pathname;
    const protocol = speaksDraft(req) ? draft(req, res, pathname) : tus(req, res, pathname);
    return serveInFrame(deps, req, res, protocol);
  };
}
