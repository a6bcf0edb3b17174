import { ConfigError, describeConfig, loadConfig } from '../config/load.js';
import { BerthError } from '../core/errors.js';
import { version } from './version.js';

const HELP = `berth: a gateway that gives every signed-in user their own container

Usage:
  berth serve [--workers N] [--config FILE]
                                       run the gateway (HTTP, SSH, spawner, culler); with --workers N
                                       (or the key workers), N gateway processes share its ports and
                                       the PostgreSQL store, and a worker that dies is started again;
                                       SIGTERM or SIGINT stops it in order, SIGHUP reopens its log
                                       files (logrotate)
  berth config check [--config FILE]   print the effective configuration (in header mode, first the header
                                       believed), or every error with its key
  berth forward [--gateway URL] [--token T] LOCALPORT [USER/]PORT
                                       listen on 127.0.0.1:LOCALPORT and carry each connection
                                       through the gateway to PORT of your berth (or of USER's,
                                       when they share it); defaults: $BERTH_URL or
                                       http://127.0.0.1:8000, and $BERTH_TOKEN (scope api or apps)
  berth doctor [--json] [--config FILE]
                                       check the configured set-up as a first login would meet it:
                                       runtime reachable and permitted, image, data directory, ports,
                                       publicUrl against listen.http and TLS, apps domain (wildcard),
                                       the auth proxy's address, the OpenID provider; each problem
                                       with its fix; exit 1 when any check fails (--json: for scripts)
  berth ssh-info [--config FILE]       print the SSH command, the host key fingerprints and known_hosts
                                       lines (making the host keys in dataDir if the gateway has not yet)
  berth store copy --to URL [--config FILE]
                                       copy the SQLite store in dataDir (users, SSH keys, tokens,
                                       shares, events, the session secret and SSH host keys) into
                                       the empty PostgreSQL database at URL (postgres://…)
  berth --version                      print the version
  berth --help                         print this text

The configuration is YAML: --config FILE, else $BERTH_CONFIG, else ./berth.yaml,
else the defaults. Any key can be overridden by an environment variable named
after its path, e.g. BERTH_LISTEN_HTTP=0.0.0.0:8000 for listen.http.
`;

function takeConfigFlag(args: string[]): { file: string | undefined; rest: string[] } {
  const rest: string[] = [];
  let file: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--config' || arg === '-c') {
      file = args[++i];
      if (file === undefined) throw new UsageError('--config needs a file name');
    } else if (arg.startsWith('--config=')) {
      file = arg.slice('--config='.length);
    } else {
      rest.push(arg);
    }
  }
  return { file, rest };
}

/** `--to URL` or `--to=URL`, and nothing else. */
function takeToFlag(args: string[]): string {
  const [first, second] = args;
  if (args.length === 2 && first === '--to' && second !== undefined) return second;
  if (args.length === 1 && first?.startsWith('--to=')) return first.slice('--to='.length);
  throw new UsageError('store copy needs --to postgres://… (the URL of an empty PostgreSQL database)');
}

/** `--workers N` or `--workers=N` (serve's only flag besides --config); undefined without it. */
function takeWorkersFlag(args: string[]): string | undefined {
  const [first, second] = args;
  if (args.length === 0) return undefined;
  if (args.length === 2 && first === '--workers' && second !== undefined) return second;
  if (args.length === 1 && first?.startsWith('--workers=')) return first.slice('--workers='.length);
  throw new UsageError(`serve takes --workers N and --config FILE only, not: ${args.join(' ')}`);
}

class UsageError extends Error {}

async function run(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined) {
    process.stdout.write(HELP);
    return 1;
  }
  // `berth serve --help` asks for the usage, not for a gateway.
  if (command === 'help' || argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HELP);
    return 0;
  }
  if (command === '--version' || command === '-v') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  if (command === 'forward') {
    const { parseForwardArgs, startForward } = await import('./forward.js');
    const options = parseForwardArgs(args, process.env);
    const server = await startForward(options, (line) => process.stderr.write(`${line}\n`));
    process.stderr.write(`berth forward: 127.0.0.1:${options.localPort} -> ${options.user === null ? '' : `${options.user}/`}${options.port} through ${options.gateway}\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGTERM', resolve);
      process.once('SIGINT', resolve);
    });
    server.close();
    return 0;
  }
  const { file, rest } = takeConfigFlag(args);
  if (command === 'config' && rest[0] === 'check' && rest.length === 1) {
    const { config, file: source } = loadConfig({ file });
    const { believedIdentity } = await import('../auth/header/believed.js');
    const believed = believedIdentity(config);
    process.stdout.write(`# effective configuration${source ? ` from ${source}` : ' (defaults and environment)'}\n${believed === null ? '' : `# ${believed}\n`}${describeConfig(config)}`);
    return 0;
  }
  if (command === 'doctor' && (rest.length === 0 || (rest.length === 1 && rest[0] === '--json'))) {
    const { doctor, formatReport } = await import('./doctor.js');
    const report = await doctor(loadConfig({ file }));
    process.stdout.write(rest[0] === '--json' ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    return report.ok ? 0 : 1;
  }
  if (command === 'ssh-info' && rest.length === 0) {
    const { sshInfo } = await import('./sshInfo.js');
    process.stdout.write(await sshInfo(loadConfig({ file }).config));
    return 0;
  }
  if (command === 'store' && rest[0] === 'copy') {
    const to = takeToFlag(rest.slice(1));
    const { storeCopy } = await import('./storeCopy.js');
    process.stdout.write(await storeCopy(loadConfig({ file }).config, to));
    return 0;
  }
  if (command === 'serve') {
    const workers = takeWorkersFlag(rest);
    const { serve } = await import('./serve.js');
    // The flag is the `workers` key set from the command line: validated with the rest of the configuration.
    await serve(loadConfig({ file, env: workers === undefined ? process.env : { ...process.env, BERTH_WORKERS: workers } }), version());
    return 0;
  }
  throw new UsageError(`unknown command: ${argv.join(' ')}`);
}

run(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`berth: ${err.message}\n`);
    } else if (err instanceof UsageError) {
      process.stderr.write(`berth: ${err.message}\n\n${HELP}`);
    } else if (err instanceof BerthError) {
      process.stderr.write(`berth: ${err.userMessage}\n`);
    } else {
      process.stderr.write(`berth: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
    process.exitCode = 1;
  },
);
