"""confluent-kafka (Debian's python3-confluent-kafka, on librdkafka) driven by the broker tests.

One command per run: the test passes the bootstrap address and parameters as arguments and
records as JSON on stdin; this prints one JSON document on stdout. It checks nothing itself:
the assertions live in the TypeScript tests. A run that cannot finish in time exits 2 and says
why on stderr.
"""
import argparse
import json
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition, libversion
from confluent_kafka.admin import AdminClient

CLIENT_ID = "klab-test-confluent-kafka"


def text(raw):
    return None if raw is None else raw.decode("utf-8")


def record_json(message):
    return {
        "partition": message.partition(),
        "offset": message.offset(),
        "key": text(message.key()),
        "value": text(message.value()),
        "headers": {name: text(value) for name, value in (message.headers() or [])},
    }


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(2)


def metadata(args):
    admin = AdminClient({"bootstrap.servers": args.bootstrap, "client.id": CLIENT_ID})
    cluster = admin.list_topics(topic=args.topic, timeout=args.timeout)
    print(json.dumps({
        "librdkafka": libversion()[0],
        "clusterId": cluster.cluster_id,
        "controllerId": cluster.controller_id,
        "brokers": [{"nodeId": b.id, "host": b.host, "port": b.port} for b in cluster.brokers.values()],
        "topics": [{
            "name": name,
            "errorCode": topic.error.code() if topic.error else 0,
            "partitions": sorted(({
                "partition": p.id,
                "leader": p.leader,
                "replicas": list(p.replicas),
                "isr": list(p.isrs),
            } for p in topic.partitions.values()), key=lambda p: p["partition"]),
        } for name, topic in cluster.topics.items()],
    }))


def produce(args):
    records = json.load(sys.stdin)
    producer = Producer({
        "bootstrap.servers": args.bootstrap,
        "client.id": CLIENT_ID,
        "acks": args.acks,
        "enable.idempotence": args.idempotent,
        "compression.type": args.compression,
        "linger.ms": 5,
        # Small batches, so a run of a few hundred records makes many requests in flight.
        "batch.num.messages": args.batch_records,
    })
    deliveries = [None] * len(records)

    def reporter(index):
        def report(error, message):
            deliveries[index] = {
                "error": None if error is None else str(error),
                "partition": message.partition(),
                "offset": message.offset(),
            }
        return report

    for index, r in enumerate(records):
        options = {} if r.get("partition") is None else {"partition": r["partition"]}
        producer.produce(
            args.topic,
            key=None if r["key"] is None else r["key"].encode("utf-8"),
            value=None if r["value"] is None else r["value"].encode("utf-8"),
            headers=[(name, value.encode("utf-8")) for name, value in r["headers"].items()],
            on_delivery=reporter(index),
            **options,
        )
        producer.poll(0)
        if args.pace_ms:
            time.sleep(args.pace_ms / 1000)
    unflushed = producer.flush(args.timeout)
    if unflushed:
        fail(f"{unflushed} records still undelivered after {args.timeout} s")
    print(json.dumps({"deliveries": deliveries}))


def consumer_for(args, group_id):
    return Consumer({
        "bootstrap.servers": args.bootstrap,
        "client.id": CLIENT_ID,
        "group.id": group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    })


def partitions_of(consumer, topic, deadline):
    while time.monotonic() < deadline:
        topic_metadata = consumer.list_topics(topic=topic, timeout=5).topics.get(topic)
        if topic_metadata is not None and topic_metadata.error is None and topic_metadata.partitions:
            return sorted(topic_metadata.partitions)
        time.sleep(0.1)
    fail(f"no partitions known for topic {topic}")


def poll_record(consumer):
    message = consumer.poll(0.5)
    if message is None:
        return None
    if message.error():
        fail(f"consumer error: {message.error()}")
    return message


def consume(args):
    """Every record from the beginning to the high watermarks read at the start, without a group
    (assigned partitions; the group id is only required by the client, nothing is committed)."""
    deadline = time.monotonic() + args.timeout
    consumer = consumer_for(args, "klab-test-unused")
    try:
        partitions = partitions_of(consumer, args.topic, deadline)
        ends = {p: consumer.get_watermark_offsets(TopicPartition(args.topic, p), timeout=5)[1] for p in partitions}
        next_offsets = {p: 0 for p in partitions}
        consumer.assign([TopicPartition(args.topic, p, OFFSET_BEGINNING) for p in partitions])
        records = []
        while any(next_offsets[p] < ends[p] for p in partitions):
            if time.monotonic() > deadline:
                fail(f"read {len(records)} records; next offsets {next_offsets}, high watermarks {ends}")
            message = poll_record(consumer)
            if message is not None:
                records.append(record_json(message))
                next_offsets[message.partition()] = message.offset() + 1
        print(json.dumps({"records": records}))
    finally:
        consumer.close()


def group(args):
    """Consumes in a group, committing each record's offset as it is processed, until `limit`
    records are processed or every partition is read to the high watermark read at the start."""
    deadline = time.monotonic() + args.timeout
    consumer = consumer_for(args, args.group)
    try:
        partitions = partitions_of(consumer, args.topic, deadline)
        ends = {p: consumer.get_watermark_offsets(TopicPartition(args.topic, p), timeout=5)[1] for p in partitions}
        committed_at_start = consumer.committed([TopicPartition(args.topic, p) for p in partitions], timeout=10)
        # Where this run starts: the committed offset, or (none committed) the beginning.
        next_offsets = {tp.partition: max(tp.offset, 0) for tp in committed_at_start}
        consumer.subscribe([args.topic])
        processed = []
        def more_to_do():
            if args.limit is not None:
                return len(processed) < args.limit
            return any(next_offsets[p] < ends[p] for p in partitions)

        while more_to_do():
            if time.monotonic() > deadline:
                fail(f"processed {len(processed)} records; next offsets {next_offsets}, high watermarks {ends}")
            message = poll_record(consumer)
            if message is None:
                continue
            processed.append(record_json(message))
            next_offsets[message.partition()] = message.offset() + 1
            consumer.commit(message=message, asynchronous=False)
        committed = consumer.committed([TopicPartition(args.topic, p) for p in partitions], timeout=10)
        print(json.dumps({"records": processed, "committed": {str(tp.partition): tp.offset if tp.offset >= 0 else None for tp in committed}}))
    finally:
        consumer.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, run in [("metadata", metadata), ("produce", produce), ("consume", consume), ("group", group)]:
        command = commands.add_parser(name)
        command.set_defaults(run=run)
        command.add_argument("--bootstrap", required=True)
        command.add_argument("--topic", required=True)
        command.add_argument("--timeout", type=float, default=30)
        if name == "produce":
            command.add_argument("--acks", choices=["1", "all"], required=True)
            command.add_argument("--idempotent", action="store_true")
            command.add_argument("--compression", choices=["none", "gzip", "snappy", "lz4", "zstd"], default="none")
            command.add_argument("--batch-records", type=int, default=10000)
            # A pause after each record, so a test can stop the broker while records are in flight.
            command.add_argument("--pace-ms", type=float, default=0)
        if name == "group":
            command.add_argument("--group", required=True)
            command.add_argument("--limit", type=int)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
