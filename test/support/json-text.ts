// Compressible test payloads: JSON-like text, as chat and API traffic looks.

/** JSON-like text of exactly `size` characters (ASCII), varied by `seed`. */
export function jsonText(size: number, seed = 0): string {
  let text = "[";
  for (let i = seed; text.length < size; i++)
    text +=
      JSON.stringify({ id: i, name: `user${i % 89}`, online: i % 3 === 0, score: (i * 7919) % 1000 }) + ",";
  return text.slice(0, size);
}
