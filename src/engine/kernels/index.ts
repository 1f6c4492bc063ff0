/**
 * Kernel selection: BLAS when the addon loads, portable TypeScript otherwise. The choice is
 * process-wide (set once at start-up by the CLI, or by a test that compares both).
 */
import { jsKernels } from './js-kernels.js';
import { loadBlasKernels } from './blas-kernels.js';
import type { KernelName, Kernels } from './kernels.js';

export type { KernelName, Kernels } from './kernels.js';
export { jsKernels } from './js-kernels.js';

let active: Kernels | null = null;
let blasCache: ReturnType<typeof loadBlasKernels> | null = null;

export function blasKernels(): ReturnType<typeof loadBlasKernels> {
  blasCache ??= loadBlasKernels();
  return blasCache;
}

/** The kernels the engine uses now (BLAS if available, else TypeScript). */
export function kernels(): Kernels {
  active ??= blasKernels().kernels ?? jsKernels;
  return active;
}

/** Chooses the kernel set; 'blas' throws with the reason when the addon is unavailable. */
export function useKernels(name: KernelName | 'auto'): Kernels {
  if (name === 'js') active = jsKernels;
  else if (name === 'auto') active = blasKernels().kernels ?? jsKernels;
  else {
    const { kernels: blas, reason } = blasKernels();
    if (!blas) throw new Error(`BLAS kernels requested but unavailable: ${reason}. Fix: apt-get install libopenblas-dev && npm rebuild`);
    active = blas;
  }
  return active;
}

/** Runs `fn` with the given kernels active, restoring the previous choice afterwards. */
export function withKernels<T>(k: Kernels, fn: () => T): T {
  const previous = active;
  active = k;
  try {
    return fn();
  } finally {
    active = previous;
  }
}
