import type { RequestListener, Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { serveHttp } from '../../../../test/helpers/http-server.js';
import { probeSchema } from '../experiments/schema.js';
import { type HttpProbeSpec, runHttpProbe } from './http-probe.js';

const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    ),
  );
});

function serve(handler: RequestListener): Promise<string> {
  return serveHttp(handler, servers);
}

function httpSpec(http: Record<string, unknown>): HttpProbeSpec {
  const spec = probeSchema.parse({ name: 'web', http }).http;
  if (!spec) throw new Error('expected an http probe');
  return spec;
}

describe('runHttpProbe', () => {
  it('succeeds on the expected status and records it', async () => {
    const url = await serve((_req, res) => res.end('fine'));
    const attempt = await runHttpProbe(httpSpec({ url }));
    expect(attempt).toMatchObject({ ok: true, status: 200 });
    expect(attempt.error).toBeUndefined();
    expect(attempt.latencyMs).toBeGreaterThan(0);
    expect(Math.abs(attempt.at - Date.now())).toBeLessThan(10_000);
  });

  it('fails on another status and says what it expected', async () => {
    const url = await serve((_req, res) => {
      res.statusCode = 502;
      res.end('bad gateway');
    });
    expect(await runHttpProbe(httpSpec({ url }))).toMatchObject({
      ok: false,
      status: 502,
      error: 'status 502, expected 200',
    });
  });

  it('accepts any status of a list', async () => {
    const url = await serve((req, res) => {
      res.statusCode = req.url === '/created' ? 201 : 204;
      res.end();
    });
    const expect200or201 = { status: [200, 201] };
    expect(await runHttpProbe(httpSpec({ url: `${url}/created`, expect: expect200or201 }))).toMatchObject({
      ok: true,
      status: 201,
    });
    expect(await runHttpProbe(httpSpec({ url: `${url}/other`, expect: expect200or201 }))).toMatchObject({
      ok: false,
      status: 204,
      error: 'status 204, expected one of 200, 201',
    });
  });

  it('checks that the body contains the expected text', async () => {
    const url = await serve((req, res) =>
      res.end(req.url === '/up' ? '{"status":"UP"}' : '{"status":"DOWN"}'),
    );
    expect(await runHttpProbe(httpSpec({ url: `${url}/up`, expect: { body: '"UP"' } }))).toMatchObject({
      ok: true,
    });
    expect(await runHttpProbe(httpSpec({ url: `${url}/down`, expect: { body: '"UP"' } }))).toMatchObject({
      ok: false,
      status: 200,
      error: 'body does not contain "\\"UP\\""',
    });
  });

  it('finds the expected text across chunks of a large body', async () => {
    const url = await serve((_req, res) => {
      res.write('x'.repeat(100_000));
      res.write('needle-');
      setTimeout(() => res.end(`in-the-haystack${'y'.repeat(100_000)}`), 10);
    });
    const attempt = await runHttpProbe(httpSpec({ url, expect: { body: 'needle-in-the-haystack' } }));
    expect(attempt).toMatchObject({ ok: true, status: 200 });
  });

  it('sends the method, headers and body', async () => {
    let seen: { method?: string; header?: string | string[]; body?: string } = {};
    const url = await serve((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      req.on('end', () => {
        seen = { method: req.method, header: req.headers['x-probe'], body };
        res.end();
      });
    });
    const spec = httpSpec({ url, method: 'POST', headers: { 'x-probe': 'yes' }, body: 'ping' });
    expect(await runHttpProbe(spec)).toMatchObject({ ok: true });
    expect(seen).toEqual({ method: 'POST', header: 'yes', body: 'ping' });
  });

  it('times out against a server that never answers', async () => {
    const url = await serve(() => {});
    const attempt = await runHttpProbe(httpSpec({ url, timeout: '200ms' }));
    expect(attempt).toMatchObject({ ok: false, error: 'timed out after 200ms' });
    expect(attempt.status).toBeUndefined();
    expect(attempt.latencyMs).toBeGreaterThan(100);
  });

  it('times out while the body is still being sent', async () => {
    const url = await serve((_req, res) => res.write('partial'));
    expect(await runHttpProbe(httpSpec({ url, timeout: '200ms' }))).toMatchObject({
      ok: false,
      status: 200,
      error: 'timed out after 200ms',
    });
  });

  it('reports a refused connection', async () => {
    const url = await serve(() => {});
    const server = servers.pop();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    expect(await runHttpProbe(httpSpec({ url }))).toMatchObject({ ok: false, error: 'connection refused' });
  });

  it('reports a connection the server drops', async () => {
    const url = await serve((req) => req.socket.destroy());
    const attempt = await runHttpProbe(httpSpec({ url }));
    expect(attempt.ok).toBe(false);
    expect(attempt.error).toMatch(/connection/);
  });

  it('resolves as aborted when the outer signal fires', async () => {
    const url = await serve(() => {});
    const controller = new AbortController();
    const pending = runHttpProbe(httpSpec({ url, timeout: '10s' }), controller.signal);
    setTimeout(() => controller.abort(), 50);
    expect(await pending).toMatchObject({ ok: false, error: 'aborted' });
    expect(await runHttpProbe(httpSpec({ url }), controller.signal)).toMatchObject({
      ok: false,
      error: 'aborted',
    });
  });
});
