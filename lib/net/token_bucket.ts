// A token bucket (the shaper of Prosody's mod_limits and ejabberd's shapers): `rate` tokens a
// second, at most `burst` saved up. Used for bytes read per connection and attempts per address.

/** A rate with a burst allowance. */
export interface Rate {
  /** Tokens added per second. */
  perSecond: number;
  /** Most tokens that can be saved up (and spent at once). */
  burst: number;
}

/** One bucket; starts full. */
export class TokenBucket {
  #rate: Rate;
  #tokens: number;
  #at: number;
  #now: () => number;

  constructor(rate: Rate, now: () => number = performance.now.bind(performance)) {
    this.#rate = rate;
    this.#tokens = rate.burst;
    this.#now = now;
    this.#at = now();
  }

  /** Starts again, full, at another rate (e.g. once a stream authenticates). */
  setRate(rate: Rate): void {
    this.#rate = rate;
    this.#tokens = rate.burst;
    this.#at = this.#now();
  }

  /**
   * Takes `count` tokens, going into debt if there are not enough. Returns the milliseconds
   * until the debt is paid (0 if there was none).
   */
  take(count: number): number {
    this.#refill();
    this.#tokens -= count;
    return this.#tokens >= 0 ? 0 : Math.ceil(-this.#tokens * 1000 / this.#rate.perSecond);
  }

  /** Takes one token if there is one; false (and nothing taken) otherwise. */
  tryTake(count = 1): boolean {
    this.#refill();
    if (this.#tokens < count) return false;
    this.#tokens -= count;
    return true;
  }

  /** Tokens there are now. */
  get available(): number {
    this.#refill();
    return this.#tokens;
  }

  /** Whether the bucket is full again (nothing spent that has not been paid back). */
  get full(): boolean {
    this.#refill();
    return this.#tokens >= this.#rate.burst;
  }

  #refill(): void {
    const now = this.#now();
    this.#tokens = Math.min(
      this.#rate.burst,
      this.#tokens + (now - this.#at) * this.#rate.perSecond / 1000,
    );
    this.#at = now;
  }
}

/**
 * Buckets by key (an IP address, a room), created on first use and forgotten once full again,
 * so the map holds only keys that spent something recently. At most `maxKeys` are kept: past
 * that, the oldest is dropped (it loses its debt, which only makes the limit more lenient).
 */
export class KeyedBuckets {
  #rate: Rate;
  #buckets = new Map<string, TokenBucket>();
  #maxKeys: number;

  constructor(rate: Rate, maxKeys = 100_000) {
    this.#rate = rate;
    this.#maxKeys = maxKeys;
  }

  /** Takes one token for `key`; false if its bucket is empty. */
  tryTake(key: string): boolean {
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      if (this.#buckets.size >= this.#maxKeys) this.#sweep();
      bucket = new TokenBucket(this.#rate);
      this.#buckets.set(key, bucket);
    }
    return bucket.tryTake();
  }

  /** Whether `key` has a token left (without taking it). */
  has(key: string): boolean {
    const bucket = this.#buckets.get(key);
    return bucket === undefined || bucket.available >= 1;
  }

  /** Keys currently tracked. */
  get size(): number {
    return this.#buckets.size;
  }

  #sweep(): void {
    for (const [key, bucket] of this.#buckets) if (bucket.full) this.#buckets.delete(key);
    while (this.#buckets.size >= this.#maxKeys) {
      this.#buckets.delete(this.#buckets.keys().next().value!);
    }
  }
}
