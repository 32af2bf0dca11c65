/**
 * What a masker reports: how many values it replaced, where, and which
 * detectors or rules matched. Never the values.
 *
 * @module
 */

/**
 * A summary of one masking pass, for the audit record. `paths` and
 * `detectors` are capped (and deduplicated); `masked` counts every replaced
 * value.
 */
export interface MaskReport {
  masked: number;
  /** Where values were masked, e.g. `items[3].data.password` or `line 12`. */
  paths: string[];
  /** Detector and rule names that matched, e.g. `secret-data`, `jwt`. */
  detectors: string[];
}

/** Distinct detector names kept in a report. */
const MAX_DETECTORS = 32;

/** Collects findings into a {@link MaskReport}; paths are computed only while there is room for them. */
export class ReportBuilder {
  masked = 0;
  private readonly paths = new Set<string>();
  private readonly detectors = new Set<string>();

  constructor(readonly maxPaths: number) {}

  /** True while another path would be kept (so callers can skip formatting it). */
  wantsPath(): boolean {
    return this.paths.size < this.maxPaths;
  }

  add(detector: string, path: string | undefined): void {
    this.masked++;
    if (this.detectors.size < MAX_DETECTORS) this.detectors.add(detector);
    if (path !== undefined && this.paths.size < this.maxPaths) this.paths.add(path);
  }

  /** Adds another report's findings. */
  merge(report: MaskReport): void {
    this.masked += report.masked;
    for (const d of report.detectors) if (this.detectors.size < MAX_DETECTORS) this.detectors.add(d);
    for (const p of report.paths) if (this.paths.size < this.maxPaths) this.paths.add(p);
  }

  build(): MaskReport {
    return { masked: this.masked, paths: [...this.paths], detectors: [...this.detectors] };
  }
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** Formats a path of object keys and array indexes: `items[3].data["tls.key"]`. */
export function formatPath(segments: readonly (string | number)[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (IDENTIFIER.test(s)) out += out === '' ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}
