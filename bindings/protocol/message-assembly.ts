// One message assembled from its frames' data chunks (fragments: "message"). The buffer is allocated once, at
// the length the frame header announces (at most PREALLOCATE ahead of the bytes: a header alone must not make
// us hold much), and filled in place; past that it grows by doubling, never past the current frame's end
// while that frame is incomplete. Only a message of several frames can need a final copy.

// Bytes of a frame reserved when its header arrives; larger frames grow as their bytes do.
const PREALLOCATE = 256 * 1024;

/** The message being received, in the host's byte type. */
export class MessageAssembly {
  private readonly alloc: (size: number) => Uint8Array;
  private readonly maxPayload: number;
  private buffer: Uint8Array | null = null;
  /** Bytes of the message so far. */
  private received = 0;
  /** Offset in the message where the frame being read ends (its header announced the length). */
  private frameEnd = 0;

  constructor(alloc: (size: number) => Uint8Array, maxPayload: number) {
    this.alloc = alloc;
    this.maxPayload = maxPayload;
  }

  /**
   * Add a chunk (`first` of its message or not; `frameLength`: the announced payload length of the frame it
   * starts, -1 when it starts none). After the `last` chunk, the whole message (the host's own copy), else null.
   */
  add(chunk: Uint8Array, first: boolean, frameLength: number, last: boolean): Uint8Array | null {
    if (first) {
      this.buffer = null;
      this.received = 0;
    }
    if (frameLength >= 0) this.frameEnd = this.received + frameLength;
    const buffer = this.reserve(this.received + chunk.length);
    buffer.set(chunk, this.received);
    this.received += chunk.length;
    if (!last) return null;
    this.buffer = null;
    if (buffer.length === this.received) return buffer;
    // Only a message of several frames can end short of what was reserved for it.
    const message = this.alloc(this.received);
    message.set(buffer.subarray(0, this.received));
    return message;
  }

  /** Drop the message being assembled (a protocol error, or the connection is released). */
  reset(): void {
    this.buffer = null;
  }

  /** Room for `need` bytes: the frame's announced length at once (up to PREALLOCATE), then doubling. */
  private reserve(need: number): Uint8Array {
    const have = this.buffer?.length ?? 0;
    if (this.buffer && need <= have) return this.buffer;
    let size = Math.max(need, Math.min(this.frameEnd, PREALLOCATE));
    if (have > 0) size = Math.max(size, need < this.frameEnd ? Math.min(2 * have, this.frameEnd) : 2 * have);
    const grown = this.alloc(Math.max(need, Math.min(size, this.maxPayload)));
    if (this.buffer) grown.set(this.buffer.subarray(0, this.received));
    this.buffer = grown;
    return grown;
  }
}
