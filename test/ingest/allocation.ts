import { GCProfiler, getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// A full collection on demand, so a measurement starts on a heap with no garbage in it.
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

/**
 * Starts counting the bytes the V8 heap allocates; the returned function stops and answers: the
 * growth of the used heap plus what every collection meanwhile freed (GCProfiler reports the
 * used heap before and after each). The heap is collected first, so a collection during the
 * measurement frees only what was allocated during it. Not a time: the same code allocates the
 * same bytes on a busy machine. Nothing else may run in the process meanwhile.
 */
function startCounting(): () => number {
  collect();
  const profiler = new GCProfiler();
  profiler.start();
  const before = getHeapStatistics().used_heap_size;
  return () => {
    const after = getHeapStatistics().used_heap_size;
    let freed = 0;
    for (const gc of profiler.stop().statistics)
      freed += gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize;
    return after - before + freed;
  };
}

/** Bytes allocated while `run` ran (what it returns counts too). */
export function allocatedBytes<T>(run: () => T): { result: T; bytes: number } {
  const stop = startCounting();
  const result = run();
  return { result, bytes: stop() };
}

/** The same for an async `run`. */
export async function allocatedBytesAsync<T>(run: () => Promise<T>): Promise<{ result: T; bytes: number }> {
  const stop = startCounting();
  const result = await run();
  return { result, bytes: stop() };
}
