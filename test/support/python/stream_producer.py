"""A steady stream for the broker fault tests: acks=all, record i is "p<partition>-<i>" sent to
partition i mod N, from librdkafka's idempotent producer (Debian's python3-confluent-kafka,
the default) or kafka-python's producer (--client kafka-python, Debian's python3-kafka: an
independent implementation, without idempotence, so its retries may store a record twice).

Prints one JSON line per delivery report, {"value", "partition", "offset", "error"}, as each
arrives, and at the end {"sent": N}: records 0..N-1 were handed to the producer, in that order.
Runs until --count records are sent, SIGTERM, or end of stdin; then flushes and exits 0. Exits
2 with the reason on stderr if the producer cannot be created or hits a fatal error.
"""
import argparse
import json
import signal
import sys
import threading
import time

CLIENT_ID = "klab-test-stream-producer"


class KafkaPythonProducer:
    """kafka-python behind the few calls the loop below makes of a confluent-kafka Producer."""

    def __init__(self, bootstrap):
        from kafka import KafkaProducer

        self.producer = KafkaProducer(
            bootstrap_servers=bootstrap.split(","),
            client_id=CLIENT_ID,
            acks="all",
            retries=20,
            retry_backoff_ms=100,
            max_in_flight_requests_per_connection=1,
            linger_ms=5,
            request_timeout_ms=10000,
        )

    def produce(self, topic, value, partition, on_delivery):
        future = self.producer.send(topic, value=value, partition=partition)
        future.add_callback(lambda metadata: on_delivery(None, Delivered(value, metadata.partition, metadata.offset)))
        future.add_errback(lambda error: on_delivery(error, Delivered(value, partition, -1)))

    def poll(self, seconds):
        time.sleep(seconds)

    def flush(self, timeout):
        try:
            self.producer.flush(timeout)
            return 0
        except Exception:  # noqa: BLE001 - reported as records left without a delivery report
            return 1


class Delivered:
    """A delivery report's message, shaped like confluent-kafka's."""

    def __init__(self, value, partition, offset):
        self._value, self._partition, self._offset = value, partition, offset

    def value(self):
        return self._value

    def partition(self):
        return self._partition

    def offset(self):
        return self._offset


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--partitions", type=int, required=True)
    parser.add_argument("--rate", type=float, default=0, help="records per second; 0 sends as fast as it can")
    parser.add_argument("--count", type=int, default=0, help="records to send; 0 sends until SIGTERM or end of stdin")
    parser.add_argument("--flush-timeout", type=float, default=30)
    parser.add_argument("--client", choices=["confluent-kafka", "kafka-python"], default="confluent-kafka")
    args = parser.parse_args()

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())

    def watch_stdin():
        sys.stdin.read()
        stopping.set()

    threading.Thread(target=watch_stdin, daemon=True).start()

    fatal = []

    def on_error(error):
        if error.fatal():
            fatal.append(str(error))
            stopping.set()

    try:
        if args.client == "kafka-python":
            producer = KafkaPythonProducer(args.bootstrap)
        else:
            from confluent_kafka import Producer

            producer = Producer({
                "bootstrap.servers": args.bootstrap,
                "client.id": CLIENT_ID,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                "error_cb": on_error,
            })
    except Exception as error:  # noqa: BLE001 - any config error ends the run with its reason
        print(f"stream_producer: cannot create the producer for {args.bootstrap}: {error}", file=sys.stderr)
        sys.exit(2)

    def report(error, message):
        print(json.dumps({
            "value": message.value().decode("utf-8"),
            "partition": message.partition(),
            "offset": message.offset(),
            "error": None if error is None else str(error),
        }), flush=True)

    sent = 0
    started = time.monotonic()
    while not stopping.is_set() and (args.count == 0 or sent < args.count):
        if args.rate > 0:
            due = started + sent / args.rate
            wait = due - time.monotonic()
            if wait > 0:
                producer.poll(wait)
                continue
        partition = sent % args.partitions
        try:
            producer.produce(args.topic, value=f"p{partition}-{sent}".encode(), partition=partition, on_delivery=report)
        except BufferError:
            # The local queue is full (the cluster is slow or away): let reports drain, then retry this record.
            producer.poll(0.1)
            continue
        except Exception as error:  # noqa: BLE001 - KafkaException or kafka-python's KafkaError: the run ends with its reason
            fatal.append(f"produce of record {sent} failed: {error}")
            break
        sent += 1
        producer.poll(0)

    left = producer.flush(args.flush_timeout)
    print(json.dumps({"sent": sent}), flush=True)
    if left:
        print(f"stream_producer: {left} records had no delivery report after {args.flush_timeout} s of flushing", file=sys.stderr)
    if fatal:
        print(f"stream_producer: gave up: {fatal[0]}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
