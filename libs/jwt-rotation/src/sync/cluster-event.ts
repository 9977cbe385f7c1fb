/** What one instance tells the others through the store's pub/sub, so they need not wait for a poll. */
export type ClusterEvent =
  | { readonly t: 'sid' | 'jti'; readonly id: string; readonly exp: number }
  | { readonly t: 'sub'; readonly id: string; readonly cutoff: number; readonly exp: number }
  /** The key ring changed (a key was created, promoted or revoked): reload it. */
  | { readonly t: 'ring' };

/** Parses an event; anything that is not one (another publisher on the channel) is `undefined`. */
export function parseClusterEvent(raw: string): ClusterEvent | undefined {
  try {
    return clusterEventOf(JSON.parse(raw));
  } catch {
    return undefined;
  }
}

/** The event a stored or published value holds, or `undefined` when it holds none. */
export function clusterEventOf(value: unknown): ClusterEvent | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const event = value as Record<string, unknown>;
  if (event.t === 'ring') return { t: 'ring' };
  if (typeof event.id !== 'string' || typeof event.exp !== 'number') return undefined;
  if (event.t === 'sid' || event.t === 'jti') return { t: event.t, id: event.id, exp: event.exp };
  if (event.t === 'sub' && typeof event.cutoff === 'number') return { t: 'sub', id: event.id, cutoff: event.cutoff, exp: event.exp };
  return undefined;
}
