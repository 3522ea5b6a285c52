// Types for the two pure-JS codec packages the broker bundles and the tests use; neither ships its own.
declare module 'lz4js' {
  export function compress(source: Uint8Array, maxSize?: number): Uint8Array;
  export function decompress(source: Uint8Array, maxSize?: number): Uint8Array;
  export function decompressBound(source: Uint8Array): number;
}

declare module 'snappyjs' {
  export function compress(source: Uint8Array): Uint8Array;
  export function uncompress(source: Uint8Array, maxLength?: number): Uint8Array;
}
