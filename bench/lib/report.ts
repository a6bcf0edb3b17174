import { appendFileSync, mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'results');

/** Prints rows as an aligned text table, first row the header. */
export function printTable(rows: ReadonlyArray<ReadonlyArray<string>>): void {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  for (const [index, row] of rows.entries()) {
    console.log(row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0))).join('  '));
    if (index === 0) console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  }
}

/**
 * Appends one JSON line to bench/results/<bench>.jsonl (git-ignored), with
 * what makes runs on different machines comparable or not, and the load
 * average at the end, which tells how busy a shared machine was.
 */
export function appendResult(bench: string, record: Record<string, unknown>): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${bench}.jsonl`);
  const machine = cpus();
  appendFileSync(
    file,
    `${JSON.stringify({ bench, at: new Date().toISOString(), node: process.version, cpus: machine.length, cpuModel: machine[0]?.model ?? null, loadAverage: loadavg(), ...record })}\n`,
  );
  return file;
}
