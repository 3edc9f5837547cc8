import { isUploadId } from '../../uploads/model/upload-id.js';

/**
 * The upload ID of a tus URL path, or undefined. The whole path must be
 * `<tusPath>/<uuid>`: `/files/x/<uuid>` or `/files/<uuid>/x` name no upload.
 */
export function uploadIdFromPath(pathname: string, tusPath: string): string | undefined {
  if (!pathname.startsWith(`${tusPath}/`)) return undefined;
  const id = pathname.slice(tusPath.length + 1).replace(/\/$/, '');
  return isUploadId(id) ? id : undefined;
}
