import { connect, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { type Lateness, type TimerHandle, TimerQueue } from './timer-queue.js';

/** A client whose first bytes are `SIMIAN-VERIFY <verifyToken>\n` is answered by the proxy itself. */
export const VERIFY_PREFIX = 'SIMIAN-VERIFY ';
/** The proxy's answer to a verification: `SIMIAN-VERIFIED <verifyToken>\n`, then it closes. */
export const VERIFIED_PREFIX = 'SIMIAN-VERIFIED ';

/** The line a client sends to check that its traffic reaches the proxy. */
export function verifyRequest(token: string): string {
  return `${VERIFY_PREFIX}${token}\n`;
}

/** The line the proxy answers a {@link verifyRequest} with. */
export function verifyAnswer(token: string): string {
  return `${VERIFIED_PREFIX}${token}\n`;
}

/** Longest injected delay, jitter and deadline distance accepted: the longest lease. */
const MAX_DELAY_MS = 86_400_000;

const hostSchema = z.string().min(1).max(253);

const latencySchema = z.strictObject({
  kind: z.literal('latency'),
  /** Added to data flowing from the upstream back to the client. */
  delayMs: z.number().min(0).max(MAX_DELAY_MS),
  /** Each chunk's delay is uniform in [delayMs − jitterMs, delayMs + jitterMs], clamped at 0. @default 0 */
  jitterMs: z.number().min(0).max(MAX_DELAY_MS).default(0),
});

const bandwidthSchema = z.strictObject({
  kind: z.literal('bandwidth'),
  /** Limit for each direction of each connection. */
  bytesPerSecond: z.number().int().min(1).max(1e12),
});

/** Accept, never connect upstream, never answer (Toxiproxy's `timeout` toxic with timeout 0). */
const timeoutSchema = z.strictObject({ kind: z.literal('timeout') });

export const faultProxyBehaviourSchema = z.discriminatedUnion('kind', [
  latencySchema,
  bandwidthSchema,
  timeoutSchema,
]);
export type FaultProxyBehaviour = z.infer<typeof faultProxyBehaviourSchema>;

export const faultProxyListenerSchema = z.strictObject({
  /** Port 0 picks a free port; the bound one is reported by {@link FaultProxy.start}. */
  listen: z.strictObject({ host: hostSchema, port: z.number().int().min(0).max(65_535) }),
  upstream: z.strictObject({ host: hostSchema, port: z.number().int().min(1).max(65_535) }),
  behaviour: faultProxyBehaviourSchema,
});
export type FaultProxyListener = z.infer<typeof faultProxyListenerSchema>;

const deadlineSchema = z.number().int().min(0);

export const faultProxyConfigSchema = z.strictObject({
  /** Epoch milliseconds at which the proxy closes everything and ends. */
  deadline: deadlineSchema,
  /** Hex token of the verification exchange ({@link verifyRequest}). */
  verifyToken: z.string().regex(/^[0-9a-fA-F]{1,128}$/, 'expected a hex string of 1 to 128 digits'),
  listeners: z.array(faultProxyListenerSchema).min(1).max(256),
});
/** The proxy's configuration, as passed base64url-encoded in `--config`. */
export type FaultProxyConfig = z.infer<typeof faultProxyConfigSchema>;
/** What the agent builds; `jitterMs` may be left out. */
export type FaultProxyConfigInput = z.input<typeof faultProxyConfigSchema>;

/** One line on the proxy's stdin: moves the deadline (lease renewal). */
export const deadlineUpdateSchema = z.strictObject({ deadline: deadlineSchema });
export type DeadlineUpdate = z.infer<typeof deadlineUpdateSchema>;

/** The `--config` argument for a configuration. */
export function encodeFaultProxyConfig(config: FaultProxyConfigInput): string {
  return Buffer.from(JSON.stringify(config), 'utf8').toString('base64url');
}

export type DecodedConfig = { ok: true; config: FaultProxyConfig } | { ok: false; error: string };

/** Decodes and validates a `--config` argument; never throws. */
export function decodeFaultProxyConfig(encoded: string): DecodedConfig {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, error: 'config: not base64url-encoded JSON' };
  }
  return parseFaultProxyConfig(json);
}

/** Validates a decoded configuration; never throws. */
export function parseFaultProxyConfig(json: unknown): DecodedConfig {
  const parsed = faultProxyConfigSchema.safeParse(json);
  if (parsed.success) return { ok: true, config: parsed.data };
  return { ok: false, error: `config: ${formatIssues(parsed.error.issues)}` };
}

/** `listeners[0].behaviour.kind: Invalid input; ...`, one entry per zod issue. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const path = issue.path
        .map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i === 0 ? '' : '.'}${String(key)}`))
        .join('');
      return `${path === '' ? '(root)' : path}: ${issue.message}`;
    })
    .join('; ');
}

/**
 * Queued bytes (not yet in the destination's kernel buffer) above which a connection stops
 * reading its source; reading resumes below half of it.
 */
const MAX_QUEUED_BYTES = 1024 * 1024;
/** Charged per queued chunk on top of its bytes, so a stream of tiny chunks is bounded too. */
const CHUNK_OVERHEAD = 64;
/** How long a first chunk that is a strict prefix of the verification line may wait for the rest. */
const SNIFF_WAIT_MS = 100;
/**
 * The upstream is dialled once the client's first bytes show it is not a verification, or after
 * this long without any, for protocols where the server speaks first (SMTP, MySQL).
 */
const SILENT_CLIENT_MS = 20;
/** After answering a verification, how long the client gets to close before it is dropped. */
const VERIFIED_LINGER_MS = 2_000;
/**
 * Each upstream socket reads into one buffer of this size for its whole life. Node's default is a
 * fresh 64 KiB allocation per read, and freeing those makes glibc shrink and regrow its heap
 * (brk, page faults, page clearing): that alone cost about 40% more CPU per GiB relayed.
 */
const READ_BUFFER_BYTES = 64 * 1024;
/** Largest bandwidth burst (token bucket size); smaller for low rates (1/20 s of the rate). */
const MAX_BURST_BYTES = 16 * 1024;
/** Queue bound for a bandwidth-limited direction: about 1/4 s of its rate, within these. */
const MIN_BANDWIDTH_QUEUE = 64 * 1024;

const EMPTY = Buffer.alloc(0);
const ignore = (): void => undefined;

/** A first-in first-out queue with O(1) shift. */
class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  peek(): T | undefined {
    return this.#items[this.#head];
  }

  /** Replaces the head (a partly sent chunk). */
  replaceHead(item: T): void {
    this.#items[this.#head] = item;
  }

  shift(): T | undefined {
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head += 1;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}

/**
 * One direction of a connection: bytes read from `source` (the other socket; none for the
 * proxy's own verification answer) go to `dest` through a behaviour. A lane pauses its source
 * rather than queue without bound.
 */
abstract class Lane {
  readonly dest: Socket;
  #source: Socket | undefined;
  #sourcePaused = false;

  constructor(dest: Socket) {
    this.dest = dest;
    dest.on('drain', () => this.onDrain());
  }

  /** The socket this lane reads from; set once it exists. */
  attach(source: Socket | undefined): void {
    this.#source = source;
    if (this.#sourcePaused) source?.pause();
  }

  abstract write(chunk: Buffer): void;

  /**
   * Like {@link write} for a chunk in the source's read buffer, which the next read overwrites.
   * Lanes that keep chunks copy it.
   */
  writeBorrowed(chunk: Buffer): void {
    this.write(Buffer.from(chunk));
  }

  /** The source ended: end `dest` once everything before has gone out. */
  abstract end(): void;
  /** Drops whatever is queued; the connection is being torn down. */
  abstract destroy(): void;

  protected onDrain(): void {
    this.resumeSource();
  }

  protected pauseSource(): void {
    if (this.#sourcePaused) return;
    this.#sourcePaused = true;
    this.#source?.pause();
  }

  protected resumeSource(): void {
    if (!this.#sourcePaused) return;
    this.#sourcePaused = false;
    if (this.#source !== undefined && !this.#source.destroyed) this.#source.resume();
  }
}

/** No fault: straight through, with the socket's own backpressure. */
class DirectLane extends Lane {
  #lent = false;

  write(chunk: Buffer): void {
    if (!this.dest.write(chunk)) this.pauseSource();
  }

  /** Zero-copy: the source stops reading until the socket no longer holds the chunk. */
  override writeBorrowed(chunk: Buffer): void {
    this.dest.write(chunk, this.#returned);
    if (this.dest.writableLength > 0) {
      this.#lent = true;
      this.pauseSource();
    }
  }

  #returned = (): void => {
    if (!this.#lent || this.dest.writableLength > 0) return;
    this.#lent = false;
    this.resumeSource();
  };

  protected override onDrain(): void {
    // A pending zero-copy write is done once nothing is queued, which 'drain' implies.
    this.#lent = false;
    this.resumeSource();
  }

  end(): void {
    this.dest.end();
  }

  destroy(): void {}
}

interface Delayed {
  due: number;
  /** undefined: the source's end. */
  chunk: Buffer | undefined;
}

/**
 * Holds each chunk (and the end) until its arrival plus a sampled delay, never reordering: a
 * chunk is due no earlier than the one before it. One {@link TimerQueue} entry per lane at most.
 */
class DelayLane extends Lane {
  readonly #timers: TimerQueue;
  readonly #delayMs: number;
  readonly #jitterMs: number;
  readonly #queue = new Fifo<Delayed>();
  #queuedBytes = 0;
  #lastDue = 0;
  #handle: TimerHandle | undefined;

  constructor(dest: Socket, timers: TimerQueue, delayMs: number, jitterMs: number) {
    super(dest);
    this.#timers = timers;
    this.#delayMs = delayMs;
    this.#jitterMs = jitterMs;
  }

  write(chunk: Buffer): void {
    this.#enqueue(chunk);
    if (this.#backlog() > MAX_QUEUED_BYTES) this.pauseSource();
  }

  end(): void {
    this.#enqueue(undefined);
  }

  destroy(): void {
    if (this.#handle !== undefined) this.#timers.cancel(this.#handle);
    this.#handle = undefined;
    this.#queue.clear();
    this.#queuedBytes = 0;
  }

  protected override onDrain(): void {
    if (this.#backlog() <= MAX_QUEUED_BYTES / 2) this.resumeSource();
  }

  #backlog(): number {
    return this.#queuedBytes + this.dest.writableLength;
  }

  #enqueue(chunk: Buffer | undefined): void {
    const jitter = this.#jitterMs === 0 ? 0 : (Math.random() * 2 - 1) * this.#jitterMs;
    const due = Math.max(this.#lastDue, this.#timers.now() + Math.max(0, this.#delayMs + jitter));
    this.#lastDue = due;
    this.#queue.push({ due, chunk });
    this.#queuedBytes += (chunk?.length ?? 0) + CHUNK_OVERHEAD;
    this.#handle ??= this.#timers.schedule(due, this.#flush);
  }

  #flush = (): void => {
    this.#handle = undefined;
    const now = this.#timers.now();
    let head = this.#queue.peek();
    while (head !== undefined && head.due <= now) {
      this.#queue.shift();
      if (head.chunk === undefined) this.dest.end();
      else {
        this.#queuedBytes -= head.chunk.length + CHUNK_OVERHEAD;
        this.dest.write(head.chunk);
      }
      head = this.#queue.peek();
    }
    if (head !== undefined) this.#handle = this.#timers.schedule(head.due, this.#flush);
    this.onDrain();
  };
}

/**
 * A token bucket of `burst` bytes refilled at `rate` bytes/s. While the lane is backlogged on its
 * own timer the bucket is not capped, so a late timer does not cost throughput; once idle it is.
 */
class BandwidthLane extends Lane {
  readonly #rate: number;
  readonly #burst: number;
  readonly #maxQueued: number;
  readonly #queue = new Fifo<Buffer>();
  #queuedBytes = 0;
  #tokens: number;
  #refilledAt: number;
  #timer: NodeJS.Timeout | undefined;
  #waitingDrain = false;
  #ending = false;
  #ended = false;

  constructor(dest: Socket, bytesPerSecond: number) {
    super(dest);
    this.#rate = bytesPerSecond / 1_000;
    this.#burst = Math.max(1, Math.min(MAX_BURST_BYTES, Math.floor(bytesPerSecond / 20)));
    this.#maxQueued = Math.min(
      MAX_QUEUED_BYTES,
      Math.max(MIN_BANDWIDTH_QUEUE, Math.floor(bytesPerSecond / 4)),
    );
    this.#tokens = this.#burst;
    this.#refilledAt = performance.now();
  }

  write(chunk: Buffer): void {
    // An idle lane refills (capped) here; a backlogged one on its timer, uncapped.
    if (this.#queue.length === 0) this.#refill(true);
    this.#queue.push(chunk);
    this.#queuedBytes += chunk.length + CHUNK_OVERHEAD;
    this.#pump();
    if (this.#queuedBytes + this.dest.writableLength > this.#maxQueued) this.pauseSource();
  }

  end(): void {
    this.#ending = true;
    this.#pump();
  }

  destroy(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue.clear();
    this.#queuedBytes = 0;
  }

  protected override onDrain(): void {
    this.#waitingDrain = false;
    // The reader was the bottleneck meanwhile: no saved-up burst beyond the bucket.
    this.#refill(true);
    this.#pump();
  }

  #refill(cap: boolean): void {
    const now = performance.now();
    this.#tokens += (now - this.#refilledAt) * this.#rate;
    this.#refilledAt = now;
    if (cap && this.#tokens > this.#burst) this.#tokens = this.#burst;
  }

  #onTimer = (): void => {
    this.#timer = undefined;
    this.#refill(false);
    this.#pump();
  };

  /** Sends what the tokens allow; callers refill first. */
  #pump(): void {
    if (this.#timer !== undefined || this.#waitingDrain || this.#ended) return;
    for (let head = this.#queue.peek(); head !== undefined; head = this.#queue.peek()) {
      const need = Math.min(head.length, this.#burst);
      if (this.#tokens < need) {
        const waitMs = Math.max(1, Math.ceil((need - this.#tokens) / this.#rate));
        this.#timer = setTimeout(this.#onTimer, waitMs);
        return;
      }
      const n = Math.min(head.length, Math.floor(this.#tokens));
      const piece = n === head.length ? head : head.subarray(0, n);
      if (n === head.length) this.#queue.shift();
      else this.#queue.replaceHead(head.subarray(n));
      this.#tokens -= n;
      this.#queuedBytes -= n + (n === head.length ? CHUNK_OVERHEAD : 0);
      if (!this.dest.write(piece)) {
        this.#waitingDrain = true;
        break;
      }
    }
    if (this.#queue.length === 0 && this.#ending && !this.#waitingDrain) {
      this.#ended = true;
      this.dest.end();
    }
    if (this.#queuedBytes + this.dest.writableLength <= this.#maxQueued / 2) this.resumeSource();
  }
}

type Direction = 'request' | 'response';

function createLane(
  behaviour: FaultProxyBehaviour,
  direction: Direction,
  dest: Socket,
  timers: TimerQueue,
): Lane {
  switch (behaviour.kind) {
    case 'latency':
      // Only the response direction is delayed, so a request/response round trip grows by delayMs.
      if (direction === 'request' || (behaviour.delayMs === 0 && behaviour.jitterMs === 0)) {
        return new DirectLane(dest);
      }
      return new DelayLane(dest, timers, behaviour.delayMs, behaviour.jitterMs);
    case 'bandwidth':
      return new BandwidthLane(dest, behaviour.bytesPerSecond);
    case 'timeout':
      // Carries only the verification answer.
      return new DirectLane(dest);
  }
}

/** What each connection needs from its proxy and listener. */
interface ConnectionContext {
  readonly listener: FaultProxyListener;
  readonly timers: TimerQueue;
  readonly verifyLine: Buffer;
  readonly verifiedLine: Buffer;
  readonly stats: FaultProxyStats;
  closed(connection: FaultConnection): void;
}

type Phase = 'sniffing' | 'forwarding' | 'holding' | 'verified';

/** A client connection and, once dialled, its upstream. Any socket error closes both, nothing else. */
class FaultConnection {
  readonly #ctx: ConnectionContext;
  readonly #client: Socket;
  readonly #response: Lane;
  #request: Lane | undefined;
  #upstream: Socket | undefined;
  #phase: Phase = 'sniffing';
  #sniffed: Buffer = EMPTY;
  #sniffTimer: NodeJS.Timeout | undefined;
  #silentTimer: NodeJS.Timeout | undefined;
  #lingerTimer: NodeJS.Timeout | undefined;
  #clientEnded = false;
  #upstreamEnded = false;
  #closed = false;

  constructor(ctx: ConnectionContext, client: Socket) {
    this.#ctx = ctx;
    this.#client = client;
    client.on('error', this.#fail);
    client.on('close', this.#onClientClose);
    client.on('end', this.#onClientEnd);
    client.on('data', this.#onClientData);
    this.#response = createLane(ctx.listener.behaviour, 'response', client, ctx.timers);
    if (ctx.listener.behaviour.kind !== 'timeout') {
      this.#silentTimer = setTimeout(() => this.#dial(), SILENT_CLIENT_MS);
    }
  }

  /** Closes both sockets now, dropping anything queued. */
  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearTimers();
    this.#request?.destroy();
    this.#response.destroy();
    this.#client.destroy();
    this.#upstream?.destroy();
    this.#ctx.closed(this);
  }

  #fail = (): void => {
    this.destroy();
  };

  #onClientData = (chunk: Buffer): void => {
    switch (this.#phase) {
      case 'forwarding':
        this.#request?.write(chunk);
        return;
      case 'sniffing':
        this.#sniff(chunk);
        return;
      case 'holding':
      case 'verified':
        // Read and dropped, as a black hole would.
        return;
    }
  };

  #sniff(chunk: Buffer): void {
    const data = this.#sniffed.length === 0 ? chunk : Buffer.concat([this.#sniffed, chunk]);
    const magic = this.#ctx.verifyLine;
    const n = Math.min(data.length, magic.length);
    if (data.compare(magic, 0, n, 0, n) !== 0) this.#forward(data);
    else if (data.length >= magic.length) this.#verify();
    else {
      this.#sniffed = data;
      this.#sniffTimer ??= setTimeout(() => this.#forward(this.#sniffed), SNIFF_WAIT_MS);
    }
  }

  /** The first bytes are not a verification: from now on the client's bytes go upstream. */
  #forward(first: Buffer): void {
    clearTimeout(this.#sniffTimer);
    this.#sniffed = EMPTY;
    if (this.#ctx.listener.behaviour.kind === 'timeout') {
      this.#phase = 'holding';
      return;
    }
    this.#phase = 'forwarding';
    this.#dial();
    if (first.length > 0) this.#request?.write(first);
    if (this.#clientEnded) this.#request?.end();
  }

  #dial(): void {
    clearTimeout(this.#silentTimer);
    if (this.#upstream !== undefined || this.#closed || this.#phase === 'verified') return;
    const { upstream: to, behaviour } = this.#ctx.listener;
    const upstream = connect({
      host: to.host,
      port: to.port,
      allowHalfOpen: true,
      noDelay: true,
      onread: { buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES), callback: this.#onUpstreamRead },
    });
    this.#upstream = upstream;
    upstream.on('error', this.#onUpstreamError);
    upstream.on('close', this.#onUpstreamClose);
    upstream.on('end', this.#onUpstreamEnd);
    this.#request = createLane(behaviour, 'request', upstream, this.#ctx.timers);
    this.#request.attach(this.#client);
    this.#response.attach(upstream);
  }

  #verify(): void {
    clearTimeout(this.#sniffTimer);
    clearTimeout(this.#silentTimer);
    this.#sniffed = EMPTY;
    this.#phase = 'verified';
    this.#ctx.stats.verified += 1;
    const upstream = this.#upstream;
    if (upstream !== undefined) {
      // Dialled early for a silent client; not needed after all.
      upstream.removeAllListeners();
      upstream.on('error', ignore);
      upstream.destroy();
      this.#request?.destroy();
      this.#request = undefined;
      this.#upstream = undefined;
      this.#response.attach(undefined);
    }
    this.#client.once('finish', () => {
      if (this.#closed || this.#clientEnded) return;
      this.#lingerTimer = setTimeout(() => this.destroy(), VERIFIED_LINGER_MS);
    });
    this.#response.write(this.#ctx.verifiedLine);
    this.#response.end();
  }

  #onClientEnd = (): void => {
    this.#clientEnded = true;
    switch (this.#phase) {
      case 'sniffing':
        this.#forward(this.#sniffed);
        if (this.#ctx.listener.behaviour.kind === 'timeout') this.destroy();
        return;
      case 'forwarding':
        this.#request?.end();
        return;
      case 'holding':
        this.destroy();
        return;
      case 'verified':
        return;
    }
  };

  #onClientClose = (): void => {
    if (this.#closed) return;
    // With allowHalfOpen a socket closes by itself once both of its directions are done.
    if (!this.#clientEnded || !this.#client.writableFinished) this.destroy();
    else if (this.#upstream === undefined || this.#upstream.closed) this.#finish();
  };

  #onUpstreamRead = (bytes: number, buffer: Uint8Array): boolean => {
    const chunk = Buffer.from(buffer.buffer, buffer.byteOffset, bytes);
    this.#response.writeBorrowed(chunk);
    return true;
  };

  #onUpstreamEnd = (): void => {
    this.#upstreamEnded = true;
    this.#response.end();
  };

  #onUpstreamError = (error: NodeJS.ErrnoException): void => {
    if (this.#upstream?.connecting === true || error.syscall === 'connect')
      this.#ctx.stats.upstreamErrors += 1;
    this.destroy();
  };

  #onUpstreamClose = (): void => {
    if (this.#closed) return;
    const upstream = this.#upstream;
    if (upstream === undefined) return;
    if (!this.#upstreamEnded || !upstream.writableFinished) this.destroy();
    else if (this.#client.closed) this.#finish();
  };

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearTimers();
    this.#request?.destroy();
    this.#response.destroy();
    this.#ctx.closed(this);
  }

  #clearTimers(): void {
    clearTimeout(this.#sniffTimer);
    clearTimeout(this.#silentTimer);
    clearTimeout(this.#lingerTimer);
  }
}

/** Counters since start. */
export interface FaultProxyStats {
  accepted: number;
  verified: number;
  /** Upstream connections that failed (refused, unreachable, reset while connecting). */
  upstreamErrors: number;
}

export type FaultProxyState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';
/** Why the proxy stopped. */
export type FaultProxyEnd = 'deadline' | 'stopped' | 'failed';

export interface FaultProxyOptions {
  /** Where the proxy reports problems that do not stop it (stderr in the process). */
  log?: (message: string) => void;
}

/** Longest single `setTimeout` Node accepts; longer waits are chained. */
const MAX_TIMEOUT_MS = 2_147_483_647;

/**
 * A Toxiproxy-like TCP relay that injects a latency, bandwidth or timeout fault between each
 * listener and its upstream, and ends itself at a deadline that the caller keeps moving (a
 * lease). Socket errors close the connection pair they happened on and nothing else.
 */
export class FaultProxy {
  readonly config: FaultProxyConfig;
  readonly #log: (message: string) => void;
  readonly #timers = new TimerQueue();
  readonly #servers: Server[] = [];
  readonly #connections = new Set<FaultConnection>();
  readonly #stats: FaultProxyStats = { accepted: 0, verified: 0, upstreamErrors: 0 };
  #state: FaultProxyState = 'idle';
  #ports: number[] = [];
  #deadline: number;
  #deadlineTimer: NodeJS.Timeout | undefined;
  #stopping: Promise<void> | undefined;
  #resolveEnded: (end: FaultProxyEnd) => void = ignore;
  /** Resolves once the proxy has stopped, with the reason. */
  readonly ended: Promise<FaultProxyEnd>;

  constructor(config: FaultProxyConfig, options: FaultProxyOptions = {}) {
    this.config = config;
    this.#deadline = config.deadline;
    this.#log = options.log ?? ignore;
    this.ended = new Promise((resolve) => {
      this.#resolveEnded = resolve;
    });
  }

  get state(): FaultProxyState {
    return this.#state;
  }

  /** The bound port of each listener, in configuration order (empty before start). */
  get ports(): readonly number[] {
    return this.#ports;
  }

  get deadline(): number {
    return this.#deadline;
  }

  get connections(): number {
    return this.#connections.size;
  }

  get stats(): Readonly<FaultProxyStats> {
    return { ...this.#stats };
  }

  /** How late delayed chunks went out, measured inside the proxy (latency listeners only). */
  get lateness(): Lateness {
    return this.#timers.lateness();
  }

  /**
   * Listens on every listener and arms the deadline; resolves with the bound ports. If one
   * listener cannot listen, the others are closed and this rejects.
   */
  async start(): Promise<number[]> {
    if (this.#state !== 'idle') throw new Error(`FaultProxy.start() in state ${this.#state}`);
    this.#state = 'starting';
    try {
      for (const [index, listener] of this.config.listeners.entries()) {
        this.#ports.push(await this.#listen(index, listener));
      }
    } catch (error) {
      await this.#shutdown('failed');
      throw error;
    }
    if (this.#state !== 'starting') {
      // stop() ran meanwhile and may have missed a listener opened after it.
      for (const server of this.#servers) server.close();
      throw new Error('FaultProxy stopped while starting');
    }
    this.#state = 'running';
    this.#armDeadline();
    return [...this.#ports];
  }

  /** Moves the deadline (epoch ms), earlier or later; a deadline in the past ends the proxy now. */
  setDeadline(epochMs: number): void {
    this.#deadline = epochMs;
    if (this.#state === 'running') this.#armDeadline();
  }

  /** Closes the listeners and every connection. */
  stop(): Promise<void> {
    return this.#shutdown('stopped');
  }

  async #listen(index: number, listener: FaultProxyListener): Promise<number> {
    const { host, port } = listener.listen;
    const verifyToken = this.config.verifyToken;
    const ctx: ConnectionContext = {
      listener,
      timers: this.#timers,
      verifyLine: Buffer.from(verifyRequest(verifyToken), 'latin1'),
      verifiedLine: Buffer.from(verifyAnswer(verifyToken), 'latin1'),
      stats: this.#stats,
      closed: (connection) => {
        this.#connections.delete(connection);
      },
    };
    const server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
      if (this.#state !== 'running') {
        client.on('error', ignore);
        client.destroy();
        return;
      }
      this.#stats.accepted += 1;
      this.#connections.add(new FaultConnection(ctx, client));
    });
    this.#servers.push(server);
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => reject(new Error(`listen ${host}:${port}: ${error.message}`));
      server.once('error', onError);
      server.listen({ host, port }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    // Accept errors (EMFILE, say) must not end the proxy; the listener keeps going.
    server.on('error', (error) => this.#log(`listener ${index} (${host}:${port}): ${error.message}`));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error(`listen ${host}:${port}: no port`);
    return address.port;
  }

  #armDeadline(): void {
    clearTimeout(this.#deadlineTimer);
    const wait = this.#deadline - Date.now();
    if (wait <= 0) {
      void this.#shutdown('deadline');
      return;
    }
    this.#deadlineTimer = setTimeout(() => this.#armDeadline(), Math.min(wait, MAX_TIMEOUT_MS));
  }

  #shutdown(end: FaultProxyEnd): Promise<void> {
    this.#stopping ??= (async () => {
      this.#state = 'stopping';
      clearTimeout(this.#deadlineTimer);
      const closed = this.#servers.map(
        (server) => new Promise<void>((resolve) => server.close(() => resolve())),
      );
      for (const connection of [...this.#connections]) connection.destroy();
      this.#timers.close();
      await Promise.all(closed);
      this.#state = 'stopped';
      this.#resolveEnded(end);
    })();
    return this.#stopping;
  }
}
