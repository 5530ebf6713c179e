// The entropy pool: random bytes the host writes (crypto.getRandomValues, esp_fill_random) and the engine
// spends on masking keys and handshake nonces. Bytes are never reused; an empty pool is a caller error.
import { ENTROPY, ENTROPY_BYTES, Result, result, setResult } from "./layout";

/** Declare that the host wrote `count` fresh random bytes at the start of the pool. */
export function entropyFilled(count: u32): void {
  setResult(Result.EntropyLeft, min(count, <u32>ENTROPY_BYTES));
}

/** True if at least `count` random bytes are left. */
export function hasEntropy(count: u32): bool {
  return result(Result.EntropyLeft) >= count;
}

/** Take `count` random bytes and return their address; check `hasEntropy` first. */
export function takeEntropy(count: u32): usize {
  const left = result(Result.EntropyLeft) - count;
  setResult(Result.EntropyLeft, left);
  return ENTROPY + <usize>left;
}
