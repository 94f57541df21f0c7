/**
 * How much of a reservation the quota allows, the same for every driver: each driver reads
 * the limits, the usage and the live reservations under the user's lock, then asks this.
 */
import type { QuotaGrant, QuotaRequest } from './types.js';

/** What the provider holds for one user at the moment of a reservation. */
export interface QuotaState {
  quotaSize: number;
  quotaFiles: number;
  usedSize: number;
  usedFiles: number;
  /** Held by the user's live sessions, this one included. */
  reservedSize: number;
  reservedFiles: number;
}

interface Dimension {
  grant: number;
  left: number;
}

/**
 * All that is wanted when the quota leaves that much; only what is needed when it leaves
 * less, so the last bytes under a limit stay shared by every session; nothing below that.
 */
function dimension(
  limit: number,
  taken: number,
  want: number,
  need: number,
): Dimension | undefined {
  if (limit <= 0) return { grant: want, left: Infinity };
  const room = Math.max(limit - taken, 0);
  if (room >= want) return { grant: want, left: room - want };
  if (room >= need) return { grant: need, left: room - need };
  return undefined;
}

export function computeGrant(
  state: QuotaState,
  request: Pick<QuotaRequest, 'size' | 'files' | 'minSize' | 'minFiles'>,
): QuotaGrant {
  const size = dimension(
    state.quotaSize,
    state.usedSize + state.reservedSize,
    request.size,
    request.minSize,
  );
  if (size === undefined) {
    return {
      granted: false,
      exceeded: 'size',
      held: state.usedSize + request.minSize <= state.quotaSize,
    };
  }
  const files = dimension(
    state.quotaFiles,
    state.usedFiles + state.reservedFiles,
    request.files,
    request.minFiles,
  );
  if (files === undefined) {
    return {
      granted: false,
      exceeded: 'files',
      held: state.usedFiles + request.minFiles <= state.quotaFiles,
    };
  }
  return {
    granted: true,
    size: size.grant,
    files: files.grant,
    sizeLeft: size.left,
    filesLeft: files.left,
  };
}
