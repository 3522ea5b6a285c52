// A small Prometheus registry (text exposition format 0.0.4): counters, gauges and
// histograms with labels. Hand-written because the broker needs only these three and is
// bundled into one file; each metric keeps its series in a Map keyed by the label values.

type Labels = Record<string, string>;

function labelKey(labels: Labels): string {
  const names = Object.keys(labels).sort();
  if (names.length === 0) return '';
  return `{${names.map((name) => `${name}="${escapeLabel(labels[name]!)}"`).join(',')}}`;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function withExtraLabel(key: string, name: string, value: string): string {
  const pair = `${name}="${value}"`;
  return key === '' ? `{${pair}}` : `${key.slice(0, -1)},${pair}}`;
}

interface Metric {
  expose(): string;
}

abstract class Series<V> implements Metric {
  protected readonly series = new Map<string, V>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge' | 'histogram',
  ) {}

  protected header(): string {
    return `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} ${this.type}\n`;
  }

  abstract expose(): string;
}

export class Counter extends Series<number> {
  constructor(name: string, help: string) {
    super(name, help, 'counter');
  }
  inc(labels: Labels = {}, amount = 1): void {
    const key = labelKey(labels);
    this.series.set(key, (this.series.get(key) ?? 0) + amount);
  }
  expose(): string {
    let text = this.header();
    for (const [key, value] of this.series) text += `${this.name}${key} ${value}\n`;
    return text;
  }
}

export class Gauge extends Series<number> {
  private readonly collectors: Array<() => Array<[Labels, number]>> = [];
  constructor(name: string, help: string) {
    super(name, help, 'gauge');
  }
  inc(labels: Labels = {}, amount = 1): void {
    const key = labelKey(labels);
    this.series.set(key, (this.series.get(key) ?? 0) + amount);
  }
  dec(labels: Labels = {}, amount = 1): void {
    this.inc(labels, -amount);
  }
  /** Values computed at scrape time (e.g. log end offsets) rather than pushed on every change. */
  collect(collector: () => Array<[Labels, number]>): void {
    this.collectors.push(collector);
  }
  expose(): string {
    let text = this.header();
    for (const [key, value] of this.series) text += `${this.name}${key} ${value}\n`;
    for (const collector of this.collectors) {
      for (const [labels, value] of collector()) text += `${this.name}${labelKey(labels)} ${value}\n`;
    }
    return text;
  }
}

interface HistogramSeries {
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Series<HistogramSeries> {
  constructor(
    name: string,
    help: string,
    private readonly buckets: readonly number[],
  ) {
    super(name, help, 'histogram');
  }
  observe(labels: Labels, value: number): void {
    const key = labelKey(labels);
    let entry = this.series.get(key);
    if (!entry) {
      entry = { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(key, entry);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) entry.counts[i]!++;
    entry.sum += value;
    entry.count++;
  }
  expose(): string {
    let text = this.header();
    for (const [key, entry] of this.series) {
      this.buckets.forEach((bound, i) => {
        text += `${this.name}_bucket${withExtraLabel(key, 'le', String(bound))} ${entry.counts[i]}\n`;
      });
      text += `${this.name}_bucket${withExtraLabel(key, 'le', '+Inf')} ${entry.count}\n`;
      text += `${this.name}_sum${key} ${entry.sum}\n${this.name}_count${key} ${entry.count}\n`;
    }
    return text;
  }
}

export class Registry {
  private readonly metrics: Metric[] = [];
  register<M extends Metric>(metric: M): M {
    this.metrics.push(metric);
    return metric;
  }
  expose(): string {
    return this.metrics.map((metric) => metric.expose()).join('');
  }
}
