/** What one instance tells the others through the {@link ClusterEventBus} (its log and pub/sub). */
export type ClusterEvent =
  | { readonly t: 'sid' | 'jti'; readonly id: string; readonly exp: number }
  | { readonly t: 'sub'; readonly id: string; readonly cutoff: number; readonly exp: number }
  /** The key ring changed (a key was created, promoted or revoked): reload it. */
  | { readonly t: 'ring' };

/** Parses an event; anything that is not one (another publisher on the channel) is `undefined`. */
export function parseClusterEvent(raw: string): ClusterEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const event = value as Record<string, unknown>;
  if (event.t === 'ring') return { t: 'ring' };
  if (typeof event.id !== 'string' || typeof event.exp !== 'number') return undefined;
  if (event.t === 'sid' || event.t === 'jti') return { t: event.t, id: event.id, exp: event.exp };
  if (event.t === 'sub' && typeof event.cutoff === 'number') return { t: 'sub', id: event.id, cutoff: event.cutoff, exp: event.exp };
  return undefined;
}
