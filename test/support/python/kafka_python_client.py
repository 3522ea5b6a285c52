"""kafka-python (Debian's python3-kafka, a pure-Python Kafka client) driven by the broker tests.

One command per run: the test passes the bootstrap address and parameters as arguments and
records as JSON on stdin; this prints one JSON document on stdout. It checks nothing itself:
the assertions live in the TypeScript tests. A run that cannot finish in time exits 2 and says
why on stderr.
"""
import argparse
import json
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.codec import has_gzip, has_lz4, has_snappy, has_zstd
from kafka.structs import OffsetAndMetadata

CLIENT_ID = "klab-test-kafka-python"


def text(raw):
    return None if raw is None else raw.decode("utf-8")


def record_json(message):
    return {
        "partition": message.partition,
        "offset": message.offset,
        "key": text(message.key),
        "value": text(message.value),
        "headers": {name: text(value) for name, value in message.headers},
    }


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(2)


def metadata(args):
    admin = KafkaAdminClient(bootstrap_servers=args.bootstrap, client_id=CLIENT_ID)
    try:
        cluster = admin.describe_cluster()
        topics = admin.describe_topics([args.topic])
        print(json.dumps({
            "apiVersion": list(admin.config["api_version"]),
            "clusterId": cluster["cluster_id"],
            "controllerId": cluster["controller_id"],
            "brokers": [{"nodeId": b["node_id"], "host": b["host"], "port": b["port"]} for b in cluster["brokers"]],
            "topics": [{
                "name": t["topic"],
                "errorCode": t["error_code"],
                "partitions": sorted(({
                    "partition": p["partition"],
                    "leader": p["leader"],
                    "replicas": p["replicas"],
                    "isr": p["isr"],
                } for p in t["partitions"]), key=lambda p: p["partition"]),
            } for t in topics],
        }))
    finally:
        admin.close()


def produce(args):
    records = json.load(sys.stdin)
    acks = "all" if args.acks == "all" else int(args.acks)
    compression = None if args.compression == "none" else args.compression
    producer = KafkaProducer(
        bootstrap_servers=args.bootstrap,
        client_id=CLIENT_ID,
        acks=acks,
        compression_type=compression,
        linger_ms=5,
        request_timeout_ms=15000,
        # One request in flight: kafka-python retries are off by default, and this keeps the
        # order of a key's records without idempotence.
        max_in_flight_requests_per_connection=1,
    )
    try:
        futures = [
            producer.send(
                args.topic,
                key=None if r["key"] is None else r["key"].encode("utf-8"),
                value=None if r["value"] is None else r["value"].encode("utf-8"),
                headers=[(name, value.encode("utf-8")) for name, value in r["headers"].items()],
                partition=r.get("partition"),
            )
            for r in records
        ]
        producer.flush(timeout=30)
        deliveries = []
        for future in futures:
            metadata = future.get(timeout=30)
            deliveries.append({"partition": metadata.partition, "offset": metadata.offset})
        print(json.dumps({"apiVersion": list(producer.config["api_version"]), "deliveries": deliveries}))
    finally:
        producer.close(timeout=10)


def topic_partitions(consumer, topic, deadline):
    while time.monotonic() < deadline:
        partitions = consumer.partitions_for_topic(topic)
        if partitions:
            return [TopicPartition(topic, p) for p in sorted(partitions)]
        time.sleep(0.1)
    fail(f"no partitions known for topic {topic}")


def consume(args):
    """Every record from the beginning to the end offsets read at the start, without a group."""
    deadline = time.monotonic() + args.timeout
    consumer = KafkaConsumer(bootstrap_servers=args.bootstrap, client_id=CLIENT_ID, enable_auto_commit=False)
    try:
        partitions = topic_partitions(consumer, args.topic, deadline)
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        records = []
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            if time.monotonic() > deadline:
                fail(f"read {len(records)} records; positions short of the end offsets {ends}")
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(record_json(m) for m in batch)
        print(json.dumps({"records": records}))
    finally:
        consumer.close(autocommit=False)


def group(args):
    """Consumes in a group, committing each record's offset as it is processed, until `limit`
    records are processed or every assigned partition is read to its end offset."""
    deadline = time.monotonic() + args.timeout
    consumer = KafkaConsumer(
        bootstrap_servers=args.bootstrap,
        client_id=CLIENT_ID,
        group_id=args.group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    try:
        consumer.subscribe([args.topic])
        processed = []
        ends = None
        while args.limit is None or len(processed) < args.limit:
            if time.monotonic() > deadline:
                fail(f"processed {len(processed)} records; assignment {consumer.assignment()}, end offsets {ends}")
            polled = consumer.poll(timeout_ms=500)
            for batch in polled.values():
                for message in batch:
                    if args.limit is not None and len(processed) >= args.limit:
                        break
                    processed.append(record_json(message))
                    tp = TopicPartition(message.topic, message.partition)
                    consumer.commit({tp: OffsetAndMetadata(message.offset + 1, None)})
            assignment = consumer.assignment()
            if not assignment:
                continue
            if ends is None:
                ends = consumer.end_offsets(list(assignment))
            if args.limit is None and all(consumer.position(tp) >= ends[tp] for tp in assignment):
                break
        partitions = topic_partitions(consumer, args.topic, deadline)
        committed = {str(tp.partition): consumer.committed(tp) for tp in partitions}
        print(json.dumps({"records": processed, "committed": committed}))
    finally:
        consumer.close(autocommit=False)


def codecs(_args):
    """The compression codecs this kafka-python can use: gzip is built in; snappy, lz4 and zstd
    need python3-snappy, python3-lz4 and python3-zstandard."""
    print(json.dumps({"gzip": has_gzip(), "snappy": has_snappy(), "lz4": has_lz4(), "zstd": has_zstd()}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    codecs_command = commands.add_parser("codecs")
    codecs_command.set_defaults(run=codecs)
    codecs_command.add_argument("--timeout", type=float, default=30)
    for name, run in [("metadata", metadata), ("produce", produce), ("consume", consume), ("group", group)]:
        command = commands.add_parser(name)
        command.set_defaults(run=run)
        command.add_argument("--bootstrap", required=True)
        command.add_argument("--topic", required=True)
        command.add_argument("--timeout", type=float, default=30)
        if name == "produce":
            command.add_argument("--acks", choices=["1", "all"], required=True)
            command.add_argument("--compression", choices=["none", "gzip", "snappy", "lz4", "zstd"], default="none")
        if name == "group":
            command.add_argument("--group", required=True)
            command.add_argument("--limit", type=int)

    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
