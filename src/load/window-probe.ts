/** CPU time and event-loop figures over a measured window, for the load generator's report. */
import { type EventLoopUtilization, monitorEventLoopDelay, performance } from 'node:perf_hooks';

export interface EventLoopStats {
  readonly utilization: number;
  readonly delayP50: number;
  readonly delayP99: number;
  readonly delayMax: number;
}

/** CPU and event-loop figures over a window, taken between `begin()` and `end()`. */
export class WindowProbe {
  #cpu: NodeJS.CpuUsage | undefined;
  #elu: EventLoopUtilization | undefined;
  #delay: ReturnType<typeof monitorEventLoopDelay> | undefined;
  #result: { cpuMs: number; eventLoop: EventLoopStats } | undefined;

  begin(): void {
    this.#cpu = process.cpuUsage();
    this.#elu = performance.eventLoopUtilization();
    this.#delay = monitorEventLoopDelay({ resolution: 5 });
    this.#delay.enable();
  }

  end(): void {
    if (this.#cpu === undefined || this.#result !== undefined) return;
    this.#result = this.#read();
    this.#delay?.disable();
  }

  /** The figures so far (final once `end()` ran). */
  read(): { cpuMs: number; eventLoop: EventLoopStats } {
    return this.#result ?? this.#read();
  }

  #read(): { cpuMs: number; eventLoop: EventLoopStats } {
    if (this.#cpu === undefined) return { cpuMs: 0, eventLoop: { utilization: 0, delayP50: 0, delayP99: 0, delayMax: 0 } };
    const cpu = process.cpuUsage(this.#cpu);
    const d = this.#delay!;
    const ms = (ns: number) => Math.round(ns / 1e4) / 100;
    return {
      cpuMs: Math.round((cpu.user + cpu.system) / 1000),
      eventLoop: {
        utilization: Math.round(performance.eventLoopUtilization(this.#elu).utilization * 1000) / 1000,
        delayP50: ms(d.percentile(50)),
        delayP99: ms(d.percentile(99)),
        delayMax: ms(d.max),
      },
    };
  }
}
