import { type IncomingMessage, type ServerResponse, validateHeaderValue } from 'node:http';

/** Node's own writer of 1xx responses (writeContinue, writeEarlyHints use it); not in its public types. */
type RawWriter = { _writeRaw?: (data: string, encoding: BufferEncoding) => boolean };

/**
 * Sends `104 Upload Resumption Supported` with `fields`, before the final
 * response (draft -01 to -05: "The server MAY send a 104 [...] once the upload
 * resource is created, while the request content is being uploaded"; "the
 * Location header field MUST be included"; it "MUST also send a header field
 * Upload-Draft-Interop-Version with the interop version as its value").
 *
 * Node has no public writer for a 104: `writeHead(104)` would be taken for the
 * final head. `_writeRaw` is what writeContinue and writeEarlyHints call: it
 * writes at once when this response owns the socket, and queues behind an
 * earlier pipelined response otherwise. RFC 9110 §15.2: "A server MUST NOT send
 * a 1xx response to an HTTP/1.0 client", so none goes to one. Returns whether
 * the 104 went out.
 */
export function sendUploadResumptionSupported(
  req: IncomingMessage,
  res: ServerResponse,
  fields: Readonly<Record<string, string>>,
): boolean {
  const writer = res as unknown as RawWriter;
  if (res.headersSent || req.httpVersion === '1.0' || typeof writer._writeRaw !== 'function') return false;
  let head = 'HTTP/1.1 104 Upload Resumption Supported\r\n';
  for (const [name, value] of Object.entries(fields)) {
    // Nothing else checks a raw write for CR or LF.
    validateHeaderValue(name, value);
    head += `${name}: ${value}\r\n`;
  }
  return writer._writeRaw.call(res, `${head}\r\n`, 'latin1');
}
