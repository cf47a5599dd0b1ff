/**
 * A token bucket (RFC 4443 2.4 f's recommended limiter): `rate` tokens a second, at most
 * `burst` saved up; each message sent takes one, and one that finds none is not sent and is
 * counted. Starts full. Times are seconds, any origin, as long as they do not go back.
 */
export class TokenBucket {
  /** Messages refused for want of a token. */
  limited = 0;
  private tokens: number;
  private at = -Infinity;

  constructor(private readonly rate: number, private readonly burst: number) {
    this.tokens = burst;
  }

  /** Whether a message may go at `now`; takes its token when it may. */
  take(now: number): boolean {
    if (now > this.at) {
      const t = this.tokens + (now - this.at) * this.rate;
      this.tokens = t > this.burst ? this.burst : t;
      this.at = now;
    }
    if (this.tokens >= 1) {
      this.tokens--;
      return true;
    }
    this.limited++;
    return false;
  }
}
