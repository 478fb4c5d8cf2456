import { describe, expect, it } from "vitest";
import { SseParser } from "./sse";

describe("SseParser", () => {
  it("parses events with ids, types and JSON data as flow_automation sends them", () => {
    const parser = new SseParser();
    const messages = parser.feed(
      ': connected\n\nid: 41\nevent: task\ndata: {"kind":"task","node_id":"a","state":"running"}\n\nid: 42\nevent: run\ndata: {"kind":"run","state":"succeeded"}\n\n',
    );
    expect(messages).toEqual([
      { event: "task", data: '{"kind":"task","node_id":"a","state":"running"}', id: "41" },
      { event: "run", data: '{"kind":"run","state":"succeeded"}', id: "42" },
    ]);
    expect(parser.lastEventId).toBe("42");
  });

  it("joins chunks split anywhere, also inside a CRLF pair", () => {
    const text = "id: 7\r\nevent: run\r\ndata: {\"a\":1}\r\n\r\nid: 8\r\ndata: x\r\n\r\n";
    for (let cut = 1; cut < text.length; cut++) {
      const parser = new SseParser();
      const messages = [...parser.feed(text.slice(0, cut)), ...parser.feed(text.slice(cut))];
      expect(messages, `cut at ${cut}`).toEqual([
        { event: "run", data: '{"a":1}', id: "7" },
        { event: "message", data: "x", id: "8" },
      ]);
    }
  });

  it("feeds one character at a time with bare CR line ends", () => {
    const parser = new SseParser();
    const messages = [..."event: a\rdata: 1\r\rdata: 2\r\r"].flatMap((char) => parser.feed(char));
    expect(messages.map((m) => [m.event, m.data])).toEqual([
      ["a", "1"],
      ["message", "2"],
    ]);
  });

  it("joins several data lines with newlines and keeps a value's own colons", () => {
    const parser = new SseParser();
    expect(parser.feed("data: first\ndata:second: with colon\ndata\n\n")).toEqual([
      { event: "message", data: "first\nsecond: with colon\n", id: null },
    ]);
  });

  it("ignores comments, unknown fields and blocks without data, but keeps their id", () => {
    const parser = new SseParser();
    expect(parser.feed(": keepalive\n\nfoo: bar\n\nid: 99\n\n")).toEqual([]);
    expect(parser.lastEventId).toBe("99");
    expect(parser.feed("data: later\n\n")).toEqual([{ event: "message", data: "later", id: "99" }]);
  });

  it("does not dispatch an unterminated message, and drops it when the stream ends", () => {
    const parser = new SseParser();
    expect(parser.feed("id: 5\nevent: run\ndata: half")).toEqual([]);
    parser.end();
    expect(parser.feed("data: next\n\n")).toEqual([{ event: "message", data: "next", id: "5" }]);
  });

  it("reads retry delays and skips a byte order mark and ids with NUL", () => {
    const parser = new SseParser();
    expect(parser.feed("\ufeffretry: 2500\nid: a\0b\ndata: x\n\nretry: soon\n\n")).toEqual([
      { event: "message", data: "x", id: null },
    ]);
    expect(parser.retryMs).toBe(2500);
  });
});
