import { describe, expect, it } from 'vitest';
import { kernelChoice, kernelThreads, nativeKernels, setKernelThreads } from './index.js';

describe('kernel settings', () => {
  it('reads MTSA_KERNELS: auto by default, blas as the old name of native, anything else an error naming the setting', () => {
    expect(kernelChoice(undefined)).toBe('auto');
    expect(kernelChoice(' Native ')).toBe('native');
    expect(kernelChoice('blas')).toBe('native');
    expect(kernelChoice('js')).toBe('js');
    expect(() => kernelChoice('openblas')).toThrow(/MTSA_KERNELS=openblas: unknown kernels; use auto, native or js/);
  });

  it.runIf(nativeKernels().kernels)('sets the native kernels’ thread count and reports it', () => {
    const before = kernelThreads();
    try {
      expect(setKernelThreads(2)).toBe(2);
      expect(kernelThreads()).toBe(2);
      expect(setKernelThreads(0)).toBe(1);
    } finally {
      setKernelThreads(before);
    }
  });
});
