/**
 * The connections' texts for people (Connection.destination, "host:port", and where it was
 * diverted to), each held once however many connections name it: a column holds its index,
 * and the text is counted while some connection refers to it. Index 0 is the empty text,
 * never counted. Set once or twice per connection (the request, a diversion), never per packet.
 */
export class TextStore {
  private readonly texts: string[] = [''];
  private refs = new Int32Array(16);
  private readonly index = new Map<string, number>();
  private readonly free: number[] = [];

  /** Distinct texts held now. */
  get size(): number {
    return this.index.size;
  }

  text(i: number): string {
    return this.texts[i];
  }

  /** The index of `text`, one more reference held to it. */
  hold(text: string): number {
    if (text === '') return 0;
    let i = this.index.get(text);
    if (i === undefined) {
      i = this.free.pop() ?? this.texts.length;
      if (i >= this.refs.length) {
        const refs = new Int32Array(this.refs.length * 2);
        refs.set(this.refs);
        this.refs = refs;
      }
      this.texts[i] = text;
      this.index.set(text, i);
    }
    this.refs[i]++;
    return i;
  }

  /** Gives back a reference to index `i`; the last one forgets the text. */
  release(i: number): void {
    if (i === 0 || --this.refs[i] > 0) return;
    this.index.delete(this.texts[i]);
    this.texts[i] = '';
    this.free.push(i);
  }
}

/** The process's texts, shared by its tables as the columns are (columns.ts). */
export const TEXTS = new TextStore();
