/**
 * The `mtsa` CLI as a child process, for the end-to-end tests that kill and resume real runs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'mtsa.js');

/** Runs `mtsa args…` to its end. */
export function runToEnd(args: string[], env: NodeJS.ProcessEnv = process.env): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env });
}

/** Starts a run and SIGKILLs it as soon as `stepFile` exists in its steps directory. */
export function runAndKill(args: string[], outDir: string, stepFile: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: 'ignore', env });
    const timer = setInterval(() => {
      if (existsSync(join(outDir, 'steps', stepFile))) {
        clearInterval(timer);
        child.kill('SIGKILL');
      }
    }, 20);
    child.on('exit', (code, signal) => {
      clearInterval(timer);
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`the run ended (code ${code}) before ${stepFile} appeared`));
    });
  });
}
