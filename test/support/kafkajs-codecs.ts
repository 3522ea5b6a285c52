// Snappy and LZ4 for kafkajs, which ships only gzip. Kafka's LZ4 is the LZ4 frame format;
// Kafka's snappy is raw snappy from most producers, but Java clients write the xerial
// "snappy-java" stream framing, so reading accepts both.
import kafkajs from 'kafkajs';
import lz4 from 'lz4js';
import snappy from 'snappyjs';

interface Encoder {
  buffer: Buffer;
}

const xerialMagic = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const xerialHeaderBytes = 16;

function snappyDecompress(input: Buffer): Buffer {
  if (input.length < xerialHeaderBytes || !input.subarray(0, xerialMagic.length).equals(xerialMagic)) {
    return Buffer.from(snappy.uncompress(input));
  }
  const blocks: Buffer[] = [];
  let position = xerialHeaderBytes;
  while (position < input.length) {
    const size = input.readInt32BE(position);
    position += 4;
    blocks.push(Buffer.from(snappy.uncompress(input.subarray(position, position + size))));
    position += size;
  }
  return Buffer.concat(blocks);
}

/** Registers snappy and lz4 with kafkajs (idempotent; kafkajs keeps codecs in a global table). */
export function registerKafkajsCodecs(): void {
  const { CompressionCodecs, CompressionTypes } = kafkajs;
  CompressionCodecs[CompressionTypes.Snappy] = () => ({
    compress: async (encoder: Encoder) => Buffer.from(snappy.compress(encoder.buffer)),
    decompress: async (buffer: Buffer) => snappyDecompress(buffer),
  });
  CompressionCodecs[CompressionTypes.LZ4] = () => ({
    compress: async (encoder: Encoder) => Buffer.from(lz4.compress(encoder.buffer)),
    decompress: async (buffer: Buffer) => Buffer.from(lz4.decompress(buffer)),
  });
}
