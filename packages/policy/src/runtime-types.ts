import { isPlainObject, keysOf } from './budget';

interface RuntimeType {
  kind: string;
}

/** The parts of the library's evaluator that tell a value's type at run time. */
export interface RuntimeTyper {
  mapType: RuntimeType;
  registry: {
    getListType(valueType: RuntimeType): RuntimeType;
    getMapType(keyType: RuntimeType, valueType: RuntimeType): RuntimeType;
  };
  debugType(value: unknown): RuntimeType;
  debugTypeDeep(value: unknown): RuntimeType;
}

/**
 * Makes the evaluator's run-time typing bounded and safe for JSON input:
 * - A dyn value's type (for choosing an operator's or function's overload) is looked up one
 *   level deep (`list<string>`, `map<string, list>`), not along the first element of every
 *   level. The library walked the whole nesting and made and kept a new type for each new
 *   shape, so an agent sending differently nested values grew its type cache without bound
 *   and walked the nesting, uncharged, on every `==`. One level is all any overload tells
 *   apart (`list<string>.join()`), and the set of such types is small and fixed.
 * - A JSON object is a map whatever its own keys: the library tells a map by
 *   `value.constructor`, which an own `constructor` key (`{"constructor": null}`) replaces.
 * - A map's first key comes from the listed (and charged) keys, not from `for…in`, which
 *   lists every key of a large object each time.
 */
export function boundRuntimeTypes(evaluator: RuntimeTyper): void {
  const libraryDebugType = evaluator.debugType;
  evaluator.debugType = function debugType(this: RuntimeTyper, value: unknown): RuntimeType {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      if (isPlainObject(value)) return this.mapType;
    }
    return libraryDebugType.call(this, value);
  };
  evaluator.debugTypeDeep = function debugTypeDeep(
    this: RuntimeTyper,
    value: unknown,
  ): RuntimeType {
    const type = this.debugType(value);
    if (type.kind === 'list') {
      const first: unknown = Array.isArray(value)
        ? value[0]
        : (value as Set<unknown>).values().next().value;
      return first === undefined ? type : this.registry.getListType(this.debugType(first));
    }
    if (type.kind === 'map') {
      let key: unknown;
      let entry: unknown;
      if (value instanceof Map) {
        const first = value.entries().next().value as [unknown, unknown] | undefined;
        if (first === undefined) return type;
        [key, entry] = first;
      } else {
        const keys = keysOf(value as object);
        if (keys.length === 0) return type;
        key = keys[0];
        entry = (value as Record<string, unknown>)[key as string];
      }
      return this.registry.getMapType(this.debugType(key), this.debugType(entry));
    }
    return type;
  };
}
