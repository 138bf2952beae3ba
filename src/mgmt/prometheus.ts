// Prometheus text exposition format (version 0.0.4), for the /metrics endpoints.

export type Labels = Record<string, string | number>

export class MetricsText {
  private readonly lines: string[] = []
  private readonly described = new Set<string>()

  counter(name: string, help: string, value: number, labels?: Labels): this {
    return this.sample('counter', name, help, value, labels)
  }

  gauge(name: string, help: string, value: number, labels?: Labels): this {
    return this.sample('gauge', name, help, value, labels)
  }

  /** One counter per key of `values`, told apart by the label `labelName` (drop reasons, say). */
  counters(name: string, help: string, labelName: string, values: Record<string, number>): this {
    for (const [key, value] of Object.entries(values)) this.counter(name, help, value, { [labelName]: key })
    return this
  }

  toString(): string {
    return this.lines.join('\n') + '\n'
  }

  private sample(type: string, name: string, help: string, value: number, labels?: Labels): this {
    if (!this.described.has(name)) {
      this.described.add(name)
      this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
    }
    const labelText = labels ? `{${Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(String(v))}"`).join(',')}}` : ''
    this.lines.push(`${name}${labelText} ${Number.isFinite(value) ? value : 0}`)
    return this
  }
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}
