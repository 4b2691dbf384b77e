/**
 * What the testnet shows while it runs, on stderr (stdout stays for --json): progress bars
 * (cli-progress) with a live line of payments/s, updates/s and latency on a terminal; plain
 * timestamped lines, at most every two seconds per bar, anywhere else (CI logs, pipes).
 */
import cliProgress from 'cli-progress';

export interface Bar {
  /** Sets the value and the text shown after the bar. */
  update(value: number, detail?: string): void;
  stop(): void;
}

export interface Progress {
  /** A phase or a notice, on its own line. */
  step(message: string): void;
  bar(label: string, total: number, unit: string): Bar;
  close(): void;
}

/** A progress display: bars on a terminal, lines otherwise, nothing when `quiet`. */
export function createProgress(o: { quiet?: boolean; stream?: NodeJS.WriteStream } = {}): Progress {
  const stream = o.stream ?? process.stderr;
  if (o.quiet) return { step: () => undefined, bar: () => ({ update: () => undefined, stop: () => undefined }), close: () => undefined };
  const started = Date.now();
  const stamp = () => `[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s]`;
  if (!stream.isTTY) {
    return {
      step: (m) => stream.write(`${stamp()} ${m}\n`),
      bar(label, total, unit) {
        let last = 0;
        let value = 0;
        let detail = '';
        const line = () => `${stamp()} ${label}: ${value}/${total} ${unit}${detail ? `  ${detail}` : ''}\n`;
        return {
          update(v, d) {
            value = v;
            detail = d ?? detail;
            if (Date.now() - last >= 2000) {
              last = Date.now();
              stream.write(line());
            }
          },
          stop: () => stream.write(line()),
        };
      },
      close: () => undefined,
    };
  }
  const multi = new cliProgress.MultiBar(
    {
      stream,
      format: '{label} |{bar}| {value}/{total} {unit}  {detail}',
      barsize: 30,
      hideCursor: true,
      clearOnComplete: false,
      autopadding: true,
      fps: 8,
    },
    cliProgress.Presets.shades_classic,
  );
  return {
    step: (m) => multi.log(`${stamp()} ${m}\n`),
    bar(label, total, unit) {
      const bar = multi.create(total, 0, { label: label.padEnd(12), unit, detail: '' });
      return {
        update: (v, d) => bar.update(v, d === undefined ? {} : { detail: d }),
        stop: () => bar.stop(),
      };
    },
    close: () => multi.stop(),
  };
}
