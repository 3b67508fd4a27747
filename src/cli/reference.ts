/**
 * Renders docs/cli.md from the program `buildProgram` declares: every command's `--help`
 * output, depth first, at a fixed width so the page does not depend on the terminal.
 * `npm run docs:cli` writes the file; test/unit/docs-reference.test.ts fails when the file in
 * the repository differs. Building the program only declares commands: nothing runs.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { buildProgram, VERSION } from './main';

const HELP_WIDTH = 100;

const PREAMBLE = `# Command line

\`vectra\` is the gateway (\`vectra serve\`) and its admin client. Every command that talks to the
gateway takes \`--addr URL\` (else \`VECTRA_ADDR\`, else the saved login from \`vectra auth login\`)
and \`--json\` for machine output.

Exit codes: \`0\` success; \`1\` failure (runtime error, gateway unreachable or Unhealthy); \`2\`
invalid configuration or command-line usage. Errors print one line on stderr (\`--debug\` adds
the stack trace).

This page is generated from \`src/cli/\` by \`npm run docs:cli\`; edit the commands, not this page.
`;

const fullName = (cmd: Command): string => {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
};

const anchor = (heading: string): string => heading.toLowerCase().replace(/ /g, '-');

function walk(cmd: Command, out: Command[]): void {
  out.push(cmd);
  for (const sub of cmd.commands) walk(sub, out);
}

/** The whole of docs/cli.md. */
export function renderCliReference(): string {
  let captured = '';
  const io = {
    out: (text: string) => {
      captured += text;
    },
    err: (text: string) => {
      captured += text;
    },
  };
  const program = buildProgram({ io, env: {}, version: VERSION, exitCode: 0 });
  const commands: Command[] = [];
  walk(program, commands);

  const index = commands
    .slice(1)
    .map(
      (cmd) =>
        `- [\`${fullName(cmd)}\`](#${anchor(fullName(cmd))}): ${cmd.summary() || cmd.description()}`,
    );
  const sections = commands.map((cmd) => {
    cmd.configureHelp({ ...cmd.configureHelp(), helpWidth: HELP_WIDTH });
    captured = '';
    cmd.outputHelp();
    const help = captured.replace(/[ \t]+$/gm, '').trimEnd();
    return `## ${fullName(cmd)}\n\n\`\`\`text\n${help}\n\`\`\`\n`;
  });
  return [PREAMBLE, `## Commands\n\n${index.join('\n')}\n`, ...sections].join('\n');
}

export const CLI_REFERENCE_FILE = join(__dirname, '..', '..', 'docs', 'cli.md');

if (require.main === module) {
  writeFileSync(CLI_REFERENCE_FILE, renderCliReference());
  process.stdout.write(`wrote ${CLI_REFERENCE_FILE}\n`);
}
