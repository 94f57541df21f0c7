/**
 * Comparisons that decide whether the operator writes at all. An object the API server holds
 * has more than the operator applied (defaults, fields of other managers), so "already as
 * desired" means every field the operator sets has that value there.
 */

type Json = unknown;

function isObject(value: Json): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Every field of `desired` is present in `observed` with the same value; lists match item by item. */
export function containsDesired(observed: Json, desired: Json): boolean {
  if (Array.isArray(desired)) {
    return (
      Array.isArray(observed) &&
      observed.length === desired.length &&
      desired.every((item, index) => containsDesired(observed[index], item))
    );
  }
  if (isObject(desired)) {
    return (
      isObject(observed) &&
      Object.entries(desired).every(([key, value]) =>
        value === undefined ? true : containsDesired(observed[key], value),
      )
    );
  }
  return observed === desired;
}

/** JSON with object keys sorted: equal values give equal text. */
export function canonicalJson(value: Json): string {
  return JSON.stringify(value, (_key, inner: Json) =>
    isObject(inner)
      ? Object.fromEntries(
          Object.keys(inner)
            .sort()
            .map((key) => [key, inner[key]]),
        )
      : inner,
  );
}

export function sameJson(a: Json, b: Json): boolean {
  return canonicalJson(a) === canonicalJson(b);
}
