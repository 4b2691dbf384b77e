/** JSON with bigints and byte arrays tagged, for talking to node processes over pipes. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    typeof v === 'bigint' ? { $big: v.toString() } : v instanceof Uint8Array ? { $bytes: Buffer.from(v).toString('hex') } : v,
  );
}

export function fromJson(text: string): unknown {
  return JSON.parse(text, (_k, v: unknown) => {
    if (v && typeof v === 'object' && '$big' in v) return BigInt((v as { $big: string }).$big);
    if (v && typeof v === 'object' && '$bytes' in v) return new Uint8Array(Buffer.from((v as { $bytes: string }).$bytes, 'hex'));
    return v;
  });
}
