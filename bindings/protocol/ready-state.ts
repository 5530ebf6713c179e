// The WHATWG readyState numbers, shared by sessions, server connections and every client's lifecycle.

/** WebSocket ready states (WHATWG and ws numbering). */
export const ReadyState = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 } as const;
export type ReadyState = (typeof ReadyState)[keyof typeof ReadyState];
