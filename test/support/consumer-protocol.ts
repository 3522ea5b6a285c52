// What a consumer group leader puts in SyncGroup: a ConsumerProtocol assignment (version 0,
// one topic with the given partitions, no user data), written byte by byte as the clients do.
export function consumerAssignment(topic: string, partitions: readonly number[]): Buffer {
  const name = Buffer.from(topic);
  const buf = Buffer.alloc(2 + 4 + 2 + name.length + 4 + 4 * partitions.length + 4);
  let at = buf.writeInt16BE(0, 0);
  at = buf.writeInt32BE(1, at);
  at = buf.writeInt16BE(name.length, at);
  at += name.copy(buf, at);
  at = buf.writeInt32BE(partitions.length, at);
  for (const p of partitions) at = buf.writeInt32BE(p, at);
  buf.writeInt32BE(-1, at);
  return buf;
}
