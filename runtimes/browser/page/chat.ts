// The chat panel: one reconnecting connection to the demo server's /chat, which broadcasts every
// message to every member. Wire format (JSON text): out {name, text}; in {type: "message", name, text,
// time} or {type: "presence", count}.
import { WebSocketClient } from "../client.js";

/** A chat message as the server broadcasts it. */
export interface ChatMessage {
  type: "message";
  name: string;
  text: string;
  time: number;
}

/** How many members the server counts. */
export interface ChatPresence {
  type: "presence";
  count: number;
}

/** What the panel shows. */
export interface ChatView {
  state(text: string): void;
  message(message: ChatMessage): void;
}

/** A joined chat: send messages, leave. */
export class ChatSession {
  private readonly client: WebSocketClient;

  constructor(url: string, view: ChatView) {
    this.client = new WebSocketClient(url, undefined, { reconnect: { minDelay: 500, maxDelay: 8000 } });
    this.client.addEventListener("connecting", () => view.state("connecting…"));
    this.client.addEventListener("open", () => view.state("joined"));
    this.client.addEventListener("reconnecting", (e) =>
      view.state(`lost; reconnecting in ${e.detail.delay} ms (attempt ${e.detail.attempt})`),
    );
    this.client.addEventListener("finish", () => view.state("left"));
    this.client.addEventListener("message", (event) => {
      if (typeof event.data !== "string") return;
      let parsed: ChatMessage | ChatPresence;
      try {
        parsed = JSON.parse(event.data) as ChatMessage | ChatPresence;
      } catch {
        return;
      }
      if (parsed.type === "message") view.message(parsed);
      else if (parsed.type === "presence") view.state(`joined · ${parsed.count} online`);
    });
  }

  /** Send one message (queued while reconnecting). */
  say(name: string, text: string): void {
    this.client.send(JSON.stringify({ name, text }));
  }

  leave(): void {
    this.client.close(1000, "left the chat");
  }
}
