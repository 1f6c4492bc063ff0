/**
 * Kernel selection: native when the addon loads, portable TypeScript otherwise. The choice is
 * process-wide (set once at start-up by the CLI, or by a test that compares both).
 */
import { jsKernels } from './js-kernels.js';
import { loadNativeKernels } from './native-kernels.js';
import type { KernelName, Kernels } from './kernels.js';

export type { AttentionDims, KernelName, Kernels } from './kernels.js';
export { jsKernels } from './js-kernels.js';

let active: Kernels | null = null;
let nativeCache: ReturnType<typeof loadNativeKernels> | null = null;

export function nativeKernels(): ReturnType<typeof loadNativeKernels> {
  nativeCache ??= loadNativeKernels();
  return nativeCache;
}

/** The kernels the engine uses now (native if available, else TypeScript). */
export function kernels(): Kernels {
  active ??= nativeKernels().kernels ?? jsKernels;
  return active;
}

/**
 * The kernel choice named by MTSA_KERNELS (or another setting): auto (the default), native or js.
 * `blas` is accepted as the old name of `native`. Anything else is an error that names the setting.
 */
export function kernelChoice(value: string | undefined, setting = 'MTSA_KERNELS'): KernelName | 'auto' {
  const name = (value ?? 'auto').trim().toLowerCase();
  if (name === '' || name === 'auto') return 'auto';
  if (name === 'native' || name === 'blas') return 'native';
  if (name === 'js') return 'js';
  throw new Error(`${setting}=${value}: unknown kernels; use auto, native or js`);
}

/** Chooses the kernel set; 'native' throws with the reason when the addon is unavailable. */
export function useKernels(name: KernelName | 'auto'): Kernels {
  if (name === 'js') active = jsKernels;
  else if (name === 'auto') active = nativeKernels().kernels ?? jsKernels;
  else {
    const { kernels: native, reason } = nativeKernels();
    if (!native) throw new Error(`native kernels requested but unavailable: ${reason}. Fix: apt-get install build-essential && npm rebuild`);
    active = native;
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

/**
 * Threads the native kernels may use (1 at start-up); returns the number in effect, 1 for the
 * TypeScript kernels. Results are the same bytes whatever the number (native/pool.h).
 */
export function setKernelThreads(threads: number): number {
  const native = nativeKernels().kernels;
  if (!native) return 1;
  native.setThreads(threads);
  return native.threads();
}

/** Threads the native kernels use now (1 for the TypeScript kernels). */
export function kernelThreads(): number {
  return nativeKernels().kernels?.threads() ?? 1;
}
