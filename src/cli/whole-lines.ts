/**
 * Cuts a byte stream into whole lines before decoding it: a newline byte never sits inside a
 * UTF-8 sequence, so text decoded up to the last newline never splits a character.
 * `take(chunk)` gives the text of the lines completed so far (newlines included; '' while none
 * is), `rest()` the text after the last newline.
 */
export class WholeLines {
  private pending: Buffer = Buffer.alloc(0);

  take(chunk: Buffer): string {
    const buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const nl = buf.lastIndexOf(0x0a);
    if (nl < 0) {
      this.pending = buf;
      return '';
    }
    this.pending = Buffer.from(buf.subarray(nl + 1));
    return buf.toString('utf8', 0, nl + 1);
  }

  rest(): string {
    return this.pending.toString('utf8');
  }
}
