/**
 * Runs a PyTorch anchor script from bench/ with Debian's python3 (where python3-torch lives) and
 * returns its tokens/s, or null with the reason when PyTorch is unavailable.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function runPythonAnchor(script: string, args: Record<string, unknown>): { tokensPerSecond: number | null; note?: string } {
  if (process.env.BENCH_SKIP_TORCH) return { tokensPerSecond: null, note: 'torch half skipped: BENCH_SKIP_TORCH set' };
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'bench', script)) && dirname(dir) !== dir) dir = dirname(dir);
  const path = join(dir, 'bench', script);
  // pyenv shims often shadow the system interpreter that has Debian's python3-torch.
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const result = spawnSync(python, [path, JSON.stringify(args)], { encoding: 'utf8' });
  if (result.status !== 0) {
    const reason = /No module named 'torch'/.test(result.stderr ?? '')
      ? 'PyTorch not installed (apt-get install python3-torch)'
      : (result.stderr || result.error?.message || 'unknown error').trim().split('\n').pop();
    return { tokensPerSecond: null, note: `torch half skipped: ${reason}` };
  }
  return { tokensPerSecond: JSON.parse(result.stdout.trim().split('\n').pop()!).tokens_per_s };
}
