// An SDK client made on first use (loading a Google client library is a large part of a cold
// start), shared by the gRPC adapters. A failed creation is forgotten, so the next call tries again.

export class LazyClient<T extends { close(): Promise<void> }> {
  private promise: Promise<T> | undefined;

  constructor(private readonly create: () => Promise<T>, given?: T) {
    if (given) this.promise = Promise.resolve(given);
  }

  get(): Promise<T> {
    this.promise ??= this.create().catch((err: unknown) => {
      this.promise = undefined;
      throw err;
    });
    return this.promise;
  }

  /** Closes the client if one was made; the next call makes a new one. */
  async close(): Promise<void> {
    const client = await this.promise?.catch(() => undefined);
    this.promise = undefined;
    await client?.close();
  }
}
