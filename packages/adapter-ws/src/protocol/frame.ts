/**
 * Unmasked, unfragmented WebSocket text frames (RFC 6455 §5.2). A server's frames are never
 * masked, so a broadcast's frame is the same bytes for every client: framed once, into the
 * turn's batch (transport/frameBatch.ts), it spares ws a header, a frame list and two buffered
 * writes per client per event (issue 20: with ten clients, ws' framing was a third of what the
 * gateway allocated at 10,000 values/s).
 */

/** The bytes of a text frame whose payload is `length` bytes: the shortest header for it, and the payload. */
export function textFrameBytes(length: number): number {
  return (length < 126 ? 2 : length < 65_536 ? 4 : 10) + length;
}

/**
 * Writes the header of a text frame whose payload is `length` bytes into `target` at `at`;
 * returns where its payload goes (the caller writes it there, `length` UTF-8 bytes).
 */
export function writeTextFrameHeader(target: Buffer, at: number, length: number): number {
  // FIN, and the text opcode.
  target[at] = 0x81;
  if (length < 126) {
    target[at + 1] = length;
    return at + 2;
  }
  if (length < 65_536) {
    target[at + 1] = 126;
    target.writeUInt16BE(length, at + 2);
    return at + 4;
  }
  target[at + 1] = 127;
  target.writeUInt32BE(Math.floor(length / 2 ** 32), at + 2);
  target.writeUInt32BE(length >>> 0, at + 6);
  return at + 10;
}

/** `text` as a frame of its own. */
export function textFrame(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const frame = Buffer.allocUnsafe(textFrameBytes(length));
  frame.write(text, writeTextFrameHeader(frame, 0, length), length, 'utf8');
  return frame;
}
