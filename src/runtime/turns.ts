/**
 * Keeps one event-loop turn short. Work that arrives together (a socket chunk of hundreds of
 * proposals, a store commit completing hundreds of updates) would otherwise run as one long
 * turn: what it sends leaves only at the end, the peer idles meanwhile and then answers in one
 * long turn of its own, so two nodes take turns instead of working at once (measured: each
 * main thread ~60% busy in alternating 20-40 ms bursts, with CPU to spare). One budget per turn,
 * shared by everything that does a lot of work in one: the node's channel steps check
 * {@link turnBudget} before they start, the transport's inbox checks {@link withinTurnBudget}
 * between frames, and both continue on a later turn once this one has run for
 * {@link TURN_BUDGET_MS}; sends, store commits and socket reads get in between.
 *
 * The budget trades batching for overlap (measured with `npm run bench`'s scenarios, two runs
 * each): 2 ms raised two-node co-signed updates/s from ~2.2k to ~2.5k but cost CPU per update
 * (smaller write batches); 5 ms gave ~2.9-3.2k; unbounded turns gave the most payments/s in
 * the many-payments-per-update scenario (within noise of 5 ms).
 */

/** How long one turn runs channel steps before yielding. */
export const TURN_BUDGET_MS = 5;

/** When the current slice of work began; -1 between slices. */
let sliceStart = -1;
const endSlice = (): void => {
  sliceStart = -1;
};

/** True while the current turn has budget left; the first call of a turn starts its slice. */
export function withinTurnBudget(): boolean {
  const now = performance.now();
  if (sliceStart < 0) {
    sliceStart = now;
    // Runs after this turn's I/O callbacks and microtasks: the next call starts a new slice.
    setImmediate(endSlice);
    return true;
  }
  return now - sliceStart < TURN_BUDGET_MS;
}

/**
 * `undefined` when a step may run now (within this turn's budget), else a promise that
 * resolves on a later turn.
 */
export function turnBudget(): Promise<void> | undefined {
  if (withinTurnBudget()) return undefined;
  return new Promise((resolve) => setImmediate(resolve));
}
