/**
 * Plants secrets in every secret configuration key, runs the real `vectra serve` at Trace
 * level with the file sink on, and searches everything it wrote for them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freshWorkdir, runCli, startServe, exitOf } from '../helpers/cli';
import { freePort } from '../helpers/waiting-and-processes';

const SECRET = 'PlantedSecret9d41';

it('no secret reaches stdout, stderr, the log files, /health or config show', async () => {
  const cwd = freshWorkdir();
  const seqPort = await freePort(); // nothing listens: the Seq sink fails, and must not leak either
  const env = {
    Observability__Logging__DefaultLogLevel: 'Trace',
    Observability__Logging__File__Enabled: 'true',
    Observability__Logging__Seq__Enabled: 'true',
    Observability__Logging__Seq__ServerUrl: `http://127.0.0.1:${seqPort}`,
    Observability__Logging__Seq__ApiKey: `seq-${SECRET}`,
    Security__AgentAuth__Jwt__SecretKey: `jwt-${SECRET}`,
    Semantic__Providers__OpenAi__ApiKey: `sk-${SECRET}`,
    HumanInTheLoop__NotificationWebhookUrl: `https://hooks.example.com/services/${SECRET}`,
    System__Storage__Database__Providers__Postgres__ConnectionString: `Host=db;Username=u;Password=${SECRET}`,
    System__Storage__Cache__Providers__Redis__ConnectionString: `127.0.0.1:6379,password=${SECRET}`,
  };
  const serving = await startServe([], { cwd, env });
  const { child, api: url } = serving;
  let healthBody = '';
  try {
    healthBody = await (await fetch(`${url}/health`)).text();
    await fetch(`${url}/nope`, { headers: { authorization: `Bearer ${SECRET}` } });
  } finally {
    child.kill('SIGTERM');
  }
  expect(await exitOf(child)).toBe(0);
  const output = serving.stdout + serving.stderr;
  const shown = await runCli(['config', 'show', '--json'], { cwd, env });

  const logDir = join(cwd, 'logs');
  const files = readdirSync(logDir).map((f) => readFileSync(join(logDir, f), 'utf8'));
  expect(files.join('')).toContain('listening'); // the file sink did write
  expect(output).toContain('shutdown complete');
  for (const text of [output, healthBody, shown.stdout, shown.stderr, ...files]) {
    expect(text).not.toContain(SECRET);
  }
});
