/** Upload ID → chunk size, for the uploads this process served lately: an upload's chunk size never changes. */
export class ChunkSizes {
  private readonly sizes = new Map<string, number>();

  constructor(private readonly most = 10_000) {}

  get(id: string): number | undefined {
    return this.sizes.get(id);
  }

  remember(id: string, chunkSize: number): void {
    if (this.sizes.size >= this.most) {
      const oldest = this.sizes.keys().next().value;
      if (oldest !== undefined) this.sizes.delete(oldest);
    }
    this.sizes.set(id, chunkSize);
  }

  forget(id: string): void {
    this.sizes.delete(id);
  }
}
