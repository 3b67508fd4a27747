/**
 * The image the agent runs in: `--image` as given, or the bundled one (./assets.ts), built on
 * first use with the build's progress on stderr and reused after (its tag is the hash of its
 * assets and base image). The base comes from VECTRA_ISOLATION_BASE_IMAGE, else
 * `node:22-bookworm-slim`; CI sets a local stand-in, since no registry is reachable there.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT } from '../../errors';
import { RunError } from '../run-mode';
import { bundledImageTag, DEFAULT_BASE_IMAGE, IMAGE_ASSETS } from './assets';
import { lastLines, type Docker } from './docker';

export interface ImageOptions {
  /** `--image`: used as it is (it must meet the contract in docs/isolation.md). */
  custom?: string;
  baseImage?: string;
  /** Where the build's progress goes (stderr). */
  progress: (text: string) => void;
}

export async function ensureImage(docker: Docker, options: ImageOptions): Promise<string> {
  if (options.custom) {
    const found = await docker.run(['image', 'inspect', '--format', '{{.Id}}', options.custom]);
    if (found.code !== 0) {
      throw new RunError(
        `image ${options.custom} is not available locally`,
        EXIT.CONFIG_OR_USAGE,
        'build or pull it first (`docker build -t …` / `docker pull …`)',
      );
    }
    return options.custom;
  }
  const base = options.baseImage || DEFAULT_BASE_IMAGE;
  const tag = bundledImageTag(base);
  const present = await docker.run(['image', 'inspect', '--format', '{{.Id}}', tag]);
  if (present.code === 0) return tag;

  options.progress(
    `vectra: building the isolation image ${tag} (first use; later runs reuse it)\n`,
  );
  const context = mkdtempSync(join(tmpdir(), 'vectra-image-'));
  try {
    for (const [name, content] of Object.entries(IMAGE_ASSETS)) {
      writeFileSync(join(context, name), content, { mode: 0o644 });
    }
    const built = await docker.run(
      [
        'build',
        '--build-arg',
        `NODE_IMAGE=${base}`,
        '--label',
        'vectra.isolation=image',
        '-t',
        tag,
        context,
      ],
      { onStderr: options.progress },
    );
    if (built.code !== 0) {
      throw new RunError(
        `the isolation image could not be built: ${lastLines(`${built.stdout}\n${built.stderr}`, 5)}`,
        EXIT.FAILURE,
        `check that the base image ${base} is available (VECTRA_ISOLATION_BASE_IMAGE), or pass --image`,
      );
    }
    return tag;
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}
