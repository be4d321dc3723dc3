import { readFileSync } from 'node:fs';
import { withoutFinalStop } from '../text';
import defaults from './pricing.json';

/** The price of one model, in USD per million tokens. */
export interface ModelPrice {
  input: number;
  output: number;
  provider?: string;
}

/** A pricing table: list prices per model and the date they were read. */
export interface PricingTable {
  as_of: string;
  currency?: string;
  models: Record<string, ModelPrice>;
}

/** A computed cost. */
export interface Cost {
  costUsd: number;
  /** False when the model is not in the table (the cost is then 0). */
  rateFound: boolean;
  /** The table entry that priced it (for a dated name, its base model). */
  pricedAs: string | undefined;
}

/** The pricing table that ships with the server. */
export const defaultPricing: PricingTable = defaults as PricingTable;

function validPrice(value: unknown): value is ModelPrice {
  const price = value as ModelPrice;
  return (
    typeof price === 'object' &&
    price !== null &&
    typeof price.input === 'number' &&
    typeof price.output === 'number' &&
    price.input >= 0 &&
    price.output >= 0
  );
}

/**
 * The shipped table with a pricing file's models laid over it (`{as_of?, models: {name:
 * {input, output}}}`, USD per million tokens). Throws with the file and model named when the
 * file is malformed.
 */
export function loadPricing(file?: string): PricingTable {
  if (!file) return defaultPricing;
  let parsed: Partial<PricingTable>;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(
      `Could not read the pricing file ${file}: ${withoutFinalStop((error as Error).message)}. It must be JSON like {"as_of": "2025-11-25", "models": {"my-model": {"input": 1.5, "output": 6}}} (USD per million tokens).`,
    );
  }
  if (!parsed || typeof parsed.models !== 'object' || parsed.models === null) {
    throw new Error(`The pricing file ${file} needs a "models" object.`);
  }
  for (const [model, price] of Object.entries(parsed.models)) {
    if (!validPrice(price)) {
      throw new Error(
        `The pricing file ${file} gives model "${model}" no valid price: it needs "input" and "output" numbers ≥ 0 (USD per million tokens).`,
      );
    }
  }
  return {
    as_of: parsed.as_of ?? defaultPricing.as_of,
    currency: 'USD',
    models: { ...defaultPricing.models, ...parsed.models },
  };
}

const versionSuffix = /^(-\d|-latest$|-preview|-exp|@|:)/;

/** Prices token usage with a table; lookups are cached per model name. */
export class Pricing {
  private readonly cache = new Map<string, [string, ModelPrice] | null>();
  private readonly names: string[];

  constructor(readonly table: PricingTable) {
    // Longest first, so `gpt-4o-mini-2024-07-18` is priced as gpt-4o-mini, not gpt-4o.
    this.names = Object.keys(table.models).sort((left, right) => right.length - left.length);
  }

  private lookup(model: string): [string, ModelPrice] | null {
    const exact = this.table.models[model];
    if (exact) return [model, exact];
    // Provider prefixes: `openai/gpt-4o`, `models/gemini-2.5-pro`, `anthropic.claude-…`.
    const bare = model
      .toLowerCase()
      .replace(/^(openai|anthropic|google|models|vertex_ai|bedrock)[/.:]/, '')
      .replace(/^anthropic\./, '');
    const direct = this.table.models[bare];
    if (direct) return [bare, direct];
    for (const name of this.names) {
      // Only version suffixes (dates, `-latest`, `-preview…`, `@…`, `:…`) count: `gpt-4o-minimal`
      // is not priced as gpt-4o.
      if (bare.startsWith(name) && versionSuffix.test(bare.slice(name.length))) {
        return [name, this.table.models[name] as ModelPrice];
      }
    }
    return null;
  }

  /** The cost of one call, rounded to a billionth of a dollar. */
  cost(model: string, promptTokens: number, completionTokens: number): Cost {
    let entry = this.cache.get(model);
    if (entry === undefined) {
      entry = this.lookup(model);
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(model, entry);
    }
    if (!entry) return { costUsd: 0, rateFound: false, pricedAs: undefined };
    const [name, price] = entry;
    const raw = (promptTokens * price.input + completionTokens * price.output) / 1_000_000;
    return { costUsd: Math.round(raw * 1e9) / 1e9, rateFound: true, pricedAs: name };
  }
}
