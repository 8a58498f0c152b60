// The relay's life on SIGTERM, as the Rust relay's (its `Drain`) and the
// Python relays' (relay_common.Lifecycle): /healthz red at once; calls
// still taken for --pre-stop (the load balancer's time to see it: HAProxy
// and nginx retry no 503); then new calls refused (503 before the upgrade);
// live calls run until --drain-timeout from the signal, the ones left get a
// close frame (1001), and the process exits within CLOSE_GRACE_MS more. From
// the signal on every HTTP answer says Connection: close; /livez and
// /metrics answer to the end. One per process (`LIFE`), as in Python: the
// gateway's upgrade check is static (ws's verifyClient).
import { Logger } from '@nestjs/common';
import { Counter, Gauge, Registry } from 'prom-client';

/** After the drain, time live calls get to send their close frames. */
export const CLOSE_GRACE_MS = 1_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One media socket, as the drain and /metrics see it. */
export interface SocketLife {
  /** The call sent `start`: it counts as a call. */
  started(): void;
  /** The socket closed (its close handshake is over): the drain stops waiting for it. */
  closed(): void;
}

export class Lifecycle {
  /** /healthz red. */
  draining = false;
  /** New calls refused. */
  stopping = false;
  /** One per live socket, called at the deadline: it closes with 1001. */
  private readonly cuts = new Set<() => void>();
  private readonly logger = new Logger('Lifecycle');
  readonly registry = new Registry();
  // The Rust relay's names (teledsp-relay's /metrics).
  private readonly activeCalls = new Gauge({
    name: 'teledsp_relay_active_calls',
    help: 'Calls in progress (started, not ended).',
    registers: [this.registry],
  });
  private readonly calls = new Counter({
    name: 'teledsp_relay_calls_total',
    help: 'Calls started since the relay started.',
    registers: [this.registry],
  });

  /** Media sockets open: what the drain waits for. */
  get sockets(): number {
    return this.cuts.size;
  }

  /** Registers one media socket; `cut` closes it with 1001. */
  socket(cut: () => void): SocketLife {
    this.cuts.add(cut);
    let started = false;
    let closed = false;
    return {
      started: () => {
        if (started || closed) return;
        started = true;
        this.activeCalls.inc();
        this.calls.inc();
      },
      closed: () => {
        if (closed) return;
        closed = true;
        this.cuts.delete(cut);
        if (started) this.activeCalls.dec();
      },
    };
  }

  /** From the signal: the pre-stop window, the drain, the cut. Resolves when the server may stop. */
  async drain(drainMs: number, preStopMs: number): Promise<void> {
    this.draining = true;
    const deadline = Date.now() + drainMs;
    this.logger.log(`draining: /healthz red, still taking calls for ${preStopMs} ms (${this.sockets} sockets)`);
    await sleep(Math.min(preStopMs, drainMs));
    this.stopping = true;
    this.logger.log(`pre-stop over: new calls refused (${this.sockets} sockets)`);
    while (this.sockets && Date.now() < deadline) await sleep(50);
    if (this.sockets) {
      this.logger.log(`drain timeout: closing the ${this.sockets} calls left (1001)`);
      for (const cut of [...this.cuts]) cut();
      const grace = Date.now() + CLOSE_GRACE_MS;
      while (this.sockets && Date.now() < grace) await sleep(20);
    }
    this.logger.log(`stopping (${this.sockets} left)`);
  }
}

export const LIFE = new Lifecycle();
