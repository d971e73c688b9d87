// vitest globalSetup: decides once whether the Docker tests run, builds their image, and removes
// the containers tests leaked.

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access, copyFile, mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import {
  DockerCommandError,
  docker,
  inspectCreated,
  isDockerReachable,
  listContainers,
  removeContainers,
  TEST_IMAGE,
  TEST_LABEL,
} from './docker-fixtures.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A Docker Engine answered and the test image exists: the Docker tests run. */
    dockerAvailable: boolean;
    /** Value of the `simian.test.session` label on this run's containers. */
    testSession: string;
  }
}

const IMAGE_REVISION_LABEL = 'simian.test.image';
const IMAGE_REVISION = '1';
const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];

let session: { id: string; startedAt: number; docker: boolean } | undefined;

function isCI(): boolean {
  const ci = (process.env.CI ?? '').toLowerCase();
  return ci === 'true' || ci === '1';
}

export async function setup(project: TestProject): Promise<void> {
  const id = randomUUID();
  // Docker's Created timestamps have a coarser clock than ours; leave a margin.
  session = { id, startedAt: Date.now() - 2_000, docker: false };
  project.provide('testSession', id);

  const reachable = await isDockerReachable();
  if (!reachable) {
    project.provide('dockerAvailable', false);
    if (isCI()) {
      throw new Error(
        'CI=true requires a Docker Engine, but `docker info` does not answer. Start dockerd (.ci/run does) or unset CI to skip the Docker tests.',
      );
    }
    const bar = '!'.repeat(78);
    console.warn(
      [
        '',
        bar,
        '!!  NO DOCKER ENGINE: every Docker test in this run is SKIPPED.',
        '!!  `docker info` did not answer. To run them, start one, e.g.:',
        '!!      apt-get install -y docker.io busybox-static && (dockerd >/tmp/dockerd.log 2>&1 &)',
        '!!  or run `.ci/run`, which does it for you. CI=true turns this into a failure.',
        bar,
        '',
      ].join('\n'),
    );
    return;
  }

  await ensureTestImage();
  session.docker = true;
  project.provide('dockerAvailable', true);
}

export async function teardown(): Promise<void> {
  if (!session?.docker) return;
  const { id, startedAt } = session;
  const all = await listContainers(TEST_LABEL);
  if (all.length === 0) return;
  // Only this run's containers: another vitest run in the same tree may be using its own.
  const infos = await inspectCreated(all);
  const leaked = infos.filter(
    (c) =>
      c.session === id || (c.session === undefined && Number.isFinite(c.created) && c.created >= startedAt),
  );
  if (leaked.length === 0) return;
  await removeContainers(leaked.map((c) => c.id));
  const message = [
    `LEAKED CONTAINERS: ${leaked.length} container(s) labelled ${TEST_LABEL} were still there after the tests; removed now:`,
    ...leaked.map((c) => `  ${c.id.slice(0, 12)} ${c.name} (${c.labels})`),
    'Every test must remove the containers it created (afterAll/finally, by id).',
  ].join('\n');
  console.error(`\n${message}\n`);
  // vitest only logs an error thrown here ("error during close") and still exits 0.
  if (isCI()) process.exitCode = 1;
}

/**
 * Builds {@link TEST_IMAGE} from the host's busybox-static unless it already exists with this
 * content revision. The revision label tells our build apart from a hand-made image of the same
 * name (e.g. the TESTING.md recipe, which lacks /www/index.html); bump it when the content changes.
 */
async function ensureTestImage(): Promise<void> {
  try {
    const { stdout } = await docker([
      'image',
      'inspect',
      '--format',
      `{{index .Config.Labels "${IMAGE_REVISION_LABEL}"}}`,
      TEST_IMAGE,
    ]);
    if (stdout.trim() === IMAGE_REVISION) return;
  } catch (err) {
    if (!(err instanceof DockerCommandError)) throw err;
  }

  const busybox = await findStaticBusybox();
  const dir = await mkdtemp(join(tmpdir(), 'simian-test-image-'));
  try {
    const rootfs = join(dir, 'rootfs');
    await mkdir(join(rootfs, 'bin'), { recursive: true });
    await mkdir(join(rootfs, 'www'), { recursive: true });
    await mkdir(join(rootfs, 'tmp'), { recursive: true, mode: 0o1777 });
    await copyFile(busybox, join(rootfs, 'bin', 'busybox'));
    await writeFile(join(rootfs, 'www', 'health'), 'ok\n');
    await writeFile(
      join(rootfs, 'www', 'index.html'),
      '<!doctype html><title>simian test</title><p>hello from simian-test/busybox</p>\n',
    );
    const tarball = join(dir, 'rootfs.tar');
    await run('tar', ['-C', rootfs, '-cf', tarball, '.']);
    await docker(
      [
        'import',
        '--change',
        'CMD ["/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/www"]',
        '--change',
        `LABEL ${IMAGE_REVISION_LABEL}=${IMAGE_REVISION}`,
        '-',
        TEST_IMAGE,
      ],
      { input: createReadStream(tarball) },
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function findStaticBusybox(): Promise<string> {
  for (const candidate of BUSYBOX_CANDIDATES) {
    try {
      await access(candidate);
    } catch {
      continue;
    }
    if (await isDynamicallyLinked(candidate)) {
      throw new Error(
        `${candidate} is dynamically linked and would not run in an empty image; install busybox-static (apt-get install -y busybox-static).`,
      );
    }
    return candidate;
  }
  throw new Error(
    `No busybox found (${BUSYBOX_CANDIDATES.join(', ')}); install busybox-static (apt-get install -y busybox-static) to build ${TEST_IMAGE}.`,
  );
}

/** Whether an ELF64 little-endian executable asks for a program interpreter (PT_INTERP). */
async function isDynamicallyLinked(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const header = Buffer.alloc(64);
    await handle.read(header, 0, 64, 0);
    if (header.readUInt32BE(0) !== 0x7f454c46 || header[4] !== 2 || header[5] !== 1) {
      // Not an ELF64 LE file: let the image build try and `docker run` report what is wrong.
      return false;
    }
    const phoff = Number(header.readBigUInt64LE(0x20));
    const phentsize = header.readUInt16LE(0x36);
    const phnum = header.readUInt16LE(0x38);
    const table = Buffer.alloc(phentsize * phnum);
    await handle.read(table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) {
      if (table.readUInt32LE(i * phentsize) === 3) return true;
    }
    return false;
  } finally {
    await handle.close();
  }
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.join(' ')} failed (exit ${code}): ${stderr.trim()}`));
    });
  });
}
