/**
 * Terminal progress: one bar with ETA per long phase when stderr is a terminal, one line per
 * finished phase otherwise (CI logs). The only place that draws to the terminal.
 */
import cliProgress from 'cli-progress';

export class Progress {
  private bar: cliProgress.SingleBar | null = null;
  private phase = '';
  private shownAt = 0;
  private readonly tty = Boolean(process.stderr.isTTY);

  update(phase: string, done: number, total: number): void {
    if (!this.tty) return;
    // Two phases that run side by side (arena models in worker threads) would redraw the bar on
    // every event: keep showing one for at least a second.
    if (phase !== this.phase && this.bar && performance.now() - this.shownAt < 1000) return;
    if (phase !== this.phase || !this.bar) {
      this.shownAt = performance.now();
      this.stop();
      this.phase = phase;
      this.bar = new cliProgress.SingleBar(
        { format: `${phase.padEnd(32)} [{bar}] {percentage}% | {value}/{total} | ETA {eta_formatted}`, stream: process.stderr, hideCursor: true, clearOnComplete: true, etaBuffer: 20 },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total, done);
    }
    this.bar.setTotal(total);
    this.bar.update(done);
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
    this.phase = '';
  }

  line(text: string): void {
    this.stop();
    process.stderr.write(`${text}\n`);
  }
}
