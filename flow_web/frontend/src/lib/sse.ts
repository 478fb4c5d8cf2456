/**
 * A Server-Sent Events parser, as the HTML standard's "event stream
 * interpretation" describes it, fed with text chunks as they arrive.
 *
 * The browser's EventSource cannot send an Authorization header, so the UI
 * reads event streams with fetch() and parses them here. Chunks may split a
 * line (or a CRLF pair) anywhere; a message is dispatched at its blank line.
 * The parser remembers the last event id, which a reconnecting client sends
 * back as Last-Event-ID.
 */

export interface SseMessage {
  /** The `event:` field; "message" when the event names none. */
  event: string;
  /** The `data:` lines joined by "\n". */
  data: string;
  /** The last event id at dispatch (an `id:` of this or an earlier message), or null. */
  id: string | null;
}

export class SseParser {
  private buffer = "";
  private started = false;
  private pendingCarriageReturn = false;
  private eventType = "";
  private dataLines: string[] = [];
  private hasData = false;
  /** The id of the last event seen (what Last-Event-ID should say on reconnect). */
  lastEventId: string | null = null;
  /** A reconnection delay the server asked for with `retry:`, in milliseconds. */
  retryMs: number | null = null;

  /** Parse a chunk of the stream; returns the messages it completed, in order. */
  feed(chunk: string): SseMessage[] {
    let text = chunk;
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.pendingCarriageReturn && text.startsWith("\n")) text = text.slice(1);
    this.pendingCarriageReturn = false;
    this.buffer += text;
    const messages: SseMessage[] = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const char = this.buffer[i];
      if (char !== "\n" && char !== "\r") continue;
      const line = this.buffer.slice(start, i);
      if (char === "\r") {
        if (i + 1 < this.buffer.length) {
          if (this.buffer[i + 1] === "\n") i++;
        } else {
          this.pendingCarriageReturn = true; // a "\n" at the start of the next chunk belongs to this line end
        }
      }
      start = i + 1;
      const message = this.line(line);
      if (message) messages.push(message);
    }
    this.buffer = this.buffer.slice(start);
    return messages;
  }

  /** The stream ended: an unterminated last message is dropped, as the standard says; the last id is kept. */
  end(): void {
    this.buffer = "";
    this.started = false;
    this.pendingCarriageReturn = false;
    this.reset();
  }

  private reset(): void {
    this.eventType = "";
    this.dataLines = [];
    this.hasData = false;
  }

  private line(line: string): SseMessage | null {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return null; // a comment (keepalive)
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        this.eventType = value;
        break;
      case "data":
        this.dataLines.push(value);
        this.hasData = true;
        break;
      case "id":
        if (!value.includes("\0")) this.lastEventId = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        break; // unknown fields are ignored
    }
    return null;
  }

  private dispatch(): SseMessage | null {
    if (!this.hasData) {
      this.reset();
      return null;
    }
    const message = { event: this.eventType || "message", data: this.dataLines.join("\n"), id: this.lastEventId };
    this.reset();
    return message;
  }
}
