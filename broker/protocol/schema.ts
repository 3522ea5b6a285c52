/**
 * Declarative Kafka message schemas and the TypeScript types inferred from them.
 *
 * A schema is plain data shaped like Apache Kafka's public JSON message definitions: each field
 * names the versions it exists in (`'0+'`, `'3-5'`, `'none'`), optionally the versions in which it
 * may be null, the flexible versions in which it travels as a tagged field (with its tag), and a
 * default. `defineApi` keeps the literal types (via `const` type parameters) so that
 * `MessageValue<typeof api.request>` is the exact shape the decoder produces and
 * `MessageInput<typeof api.response>` is what the encoder accepts (fields that may be left out
 * are optional; the encoder fills their defaults).
 */

export type ScalarType =
  | 'bool'
  | 'int8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'float64'
  | 'string'
  | 'uuid'
  | 'bytes'
  /** A raw record-batch blob: decoded as a zero-copy Buffer slice, encoded as-is. */
  | 'records';

export type ScalarArrayType = `[]${Exclude<ScalarType, 'records'>}`;

export type DefaultValue = number | bigint | string | boolean | null;

interface FieldCommon {
  /** camelCase name used in TypeScript values. */
  readonly name: string;
  /** Versions the field exists in: `'0+'`, `'3+'`, `'1-4'`, `'none'`. */
  readonly versions: string;
  readonly nullableVersions?: string;
  /** Flexible versions in which the field is carried in the tagged-field section. */
  readonly taggedVersions?: string;
  readonly tag?: number;
  /** Value used when the field is absent from a version or left out when encoding. */
  readonly default?: DefaultValue;
}

export interface ScalarField extends FieldCommon {
  readonly type: ScalarType;
}

export interface ScalarArrayField extends FieldCommon {
  readonly type: ScalarArrayType;
}

export interface StructField extends FieldCommon {
  /** `'[]struct'`: an array of structs; `'struct'`: a single nested struct. */
  readonly type: '[]struct' | 'struct';
  readonly fields: readonly Field[];
}

export type Field = ScalarField | ScalarArrayField | StructField;

export interface MessageSchema<F extends readonly Field[] = readonly Field[]> {
  /** e.g. 'ProduceRequest'; used in error messages. */
  readonly name: string;
  readonly apiKey: number;
  readonly flexibleVersions: string;
  readonly fields: F;
}

export interface ApiDefinition<Req extends readonly Field[] = readonly Field[], Res extends readonly Field[] = readonly Field[]> {
  readonly key: number;
  /** e.g. 'Produce'. */
  readonly name: string;
  /** Lowest version the broker answers; ApiVersions still advertises from 0 and lower versions get UNSUPPORTED_VERSION. */
  readonly minVersion: number;
  readonly maxVersion: number;
  readonly flexibleVersions: string;
  readonly request: MessageSchema<Req>;
  readonly response: MessageSchema<Res>;
  isFlexible(version: number): boolean;
  /** Whether the broker implements this version (minVersion..maxVersion). */
  supports(version: number): boolean;
}

export interface ApiSpec<Req extends readonly Field[], Res extends readonly Field[]> {
  readonly key: number;
  readonly name: string;
  readonly minVersion: number;
  readonly maxVersion: number;
  readonly flexibleVersions: string;
  readonly request: Req;
  readonly response: Res;
}

export function defineApi<const Req extends readonly Field[], const Res extends readonly Field[]>(
  spec: ApiSpec<Req, Res>,
): ApiDefinition<Req, Res> {
  const flexible = parseVersions(spec.flexibleVersions);
  return {
    key: spec.key,
    name: spec.name,
    minVersion: spec.minVersion,
    maxVersion: spec.maxVersion,
    flexibleVersions: spec.flexibleVersions,
    request: { name: `${spec.name}Request`, apiKey: spec.key, flexibleVersions: spec.flexibleVersions, fields: spec.request },
    response: { name: `${spec.name}Response`, apiKey: spec.key, flexibleVersions: spec.flexibleVersions, fields: spec.response },
    isFlexible: (version) => flexible.includes(version),
    supports: (version) => version >= spec.minVersion && version <= spec.maxVersion,
  };
}

/** An inclusive version range; `none` is the empty range (min > max). */
export interface VersionRange {
  readonly min: number;
  readonly max: number;
  includes(version: number): boolean;
}

const NO_VERSIONS: VersionRange = { min: 1, max: 0, includes: () => false };

/** Parses Kafka's version notation: `'3+'`, `'2-5'`, `'4'`, `'none'` (undefined means none). */
export function parseVersions(text: string | undefined): VersionRange {
  if (text === undefined || text === 'none') return NO_VERSIONS;
  const match = /^(\d+)(\+|-(\d+))?$/.exec(text);
  if (match === null) throw new Error(`invalid version range '${text}' (expected 'N+', 'N-M', 'N' or 'none')`);
  const min = Number(match[1]);
  const max = match[2] === '+' ? Number.MAX_SAFE_INTEGER : match[3] !== undefined ? Number(match[3]) : min;
  return { min, max, includes: (version) => version >= min && version <= max };
}

// ---- Type inference ----------------------------------------------------------------------

type ScalarValue<T extends ScalarType> = T extends 'bool'
  ? boolean
  : T extends 'int64'
    ? bigint
    : T extends 'string' | 'uuid'
      ? string
      : T extends 'bytes'
        ? Buffer
        : T extends 'records'
          ? Buffer | null
          : number;

type NullIfNullable<F> = F extends { readonly nullableVersions: string } ? null : never;

type FieldValue<F> = F extends { readonly type: '[]struct'; readonly fields: infer S extends readonly Field[] }
  ? StructValue<S>[] | NullIfNullable<F>
  : F extends { readonly type: 'struct'; readonly fields: infer S extends readonly Field[] }
    ? StructValue<S> | NullIfNullable<F>
    : F extends { readonly type: `[]${infer E extends ScalarType}` }
      ? ScalarValue<E>[] | NullIfNullable<F>
      : F extends { readonly type: infer T extends ScalarType }
        ? ScalarValue<T> | NullIfNullable<F>
        : never;

type FieldInput<F> = F extends { readonly type: '[]struct'; readonly fields: infer S extends readonly Field[] }
  ? StructInput<S>[] | NullIfNullable<F>
  : F extends { readonly type: 'struct'; readonly fields: infer S extends readonly Field[] }
    ? StructInput<S> | NullIfNullable<F>
    : FieldValue<F>;

type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** A field list known only as `readonly Field[]` (not a literal tuple) has no static shape. */
type IsWide<S extends readonly Field[]> = number extends S['length'] ? true : false;

/** Every field, as the decoder returns it (absent-in-this-version fields hold their default). */
export type StructValue<S extends readonly Field[]> =
  IsWide<S> extends true ? Record<string, unknown> : { [F in S[number] as F['name']]: FieldValue<F> };

/** A field must be given when it exists in every version, is not tagged and has no declared default. */
type IsRequired<F> = F extends { readonly versions: '0+' }
  ? F extends { readonly taggedVersions: string }
    ? false
    : F extends { readonly default: DefaultValue }
      ? false
      : true
  : false;

export type StructInput<S extends readonly Field[]> = IsWide<S> extends true ? Record<string, unknown> : Simplify<
  { [F in S[number] as IsRequired<F> extends true ? F['name'] : never]: FieldInput<F> } & {
    [F in S[number] as IsRequired<F> extends true ? never : F['name']]?: FieldInput<F>;
  }
>;

type FieldsOf<M> = M extends MessageSchema<infer F> ? F : M extends readonly Field[] ? M : never;

/** The decoded value of a message schema (or a fields list). */
export type MessageValue<M extends MessageSchema | readonly Field[]> = StructValue<FieldsOf<M>>;
/** What the encoder accepts for a message schema: optional where a default fills in. */
export type MessageInput<M extends MessageSchema | readonly Field[]> = StructInput<FieldsOf<M>>;
