// A second test reporter that repeats every failed test at the very end of the
// run, with its file and the first lines of its error: a long run's log is
// often seen only by its tail, and TAP leaves a failure where it happened.
const ERROR_LINES = 12;

// Frames of Node, of libraries and of calls with no place say nothing about which line failed.
const NOT_OURS = /^\s+at .*(node:|node_modules|\(<anonymous>\))/;

function firstLines(error) {
  const text = String(error?.cause?.stack ?? error?.cause ?? error?.stack ?? error);
  return text.split('\n').filter((line) => !NOT_OURS.test(line)).slice(0, ERROR_LINES);
}

export default async function* failedTestsReporter(source) {
  const failures = [];
  for await (const event of source) {
    // A suite fails when a test in it does; that test is listed already.
    if (event.type === 'test:fail' && event.data.details.error?.failureType !== 'subtestsFailed') {
      failures.push(event.data);
    }
  }
  if (failures.length === 0) return;
  yield `\n# ${failures.length} failed:\n`;
  for (const failure of failures) {
    yield `# not ok: ${failure.name} (${failure.file ?? 'no file'})\n`;
    for (const line of firstLines(failure.details.error)) yield `#   ${line}\n`;
  }
}
