// server.js - start and stop a Quiver server for the node:test suites (REST and gRPC);
// tests/js/helpers.js and tests/js-grpc/helpers.js re-export it.
//
// startServer() launches the binary named by $QUIVER_BIN (default
// ../../build/release/quiver relative to this directory) on a free REST port
// and a free gRPC port, with a fresh temporary storage directory, configured
// the way Qdrant is configured (QDRANT__SECTION__KEY variables).  The gRPC
// listener is up before REST answers, so the server counts as ready once
// GET /readyz answers 200; startServer() then also checks that the gRPC port
// accepts TCP connections.  server.stop() sends SIGTERM, waits for the
// process to exit, asserts that it exited with code 0 and removes the
// storage directory.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const HERE = path.dirname(fileURLToPath(import.meta.url));

export const QUIVER_BIN = process.env.QUIVER_BIN
  ? path.resolve(process.env.QUIVER_BIN)
  : path.resolve(HERE, '../../build/release/quiver');

const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 15_000;
const MAX_LOG_CHARS = 64 * 1024;

// Ports handed out by this process, so two servers started by one test file
// never get the same pair even if the kernel reuses a just-closed port.
const handedOut = new Set();

function listenOnce(port) {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => resolve(srv));
  });
}

/** Returns `n` distinct TCP ports that were free on 127.0.0.1 a moment ago. */
export async function freePorts(n) {
  const servers = [];
  try {
    while (servers.length < n) {
      const srv = await listenOnce(0);
      const { port } = srv.address();
      if (handedOut.has(port)) {
        servers.push(srv); // keep it open so the kernel hands out another one
        continue;
      }
      handedOut.add(port);
      srv.quiverPort = port;
      servers.push(srv);
    }
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
  return servers.filter((s) => s.quiverPort !== undefined).map((s) => s.quiverPort);
}

function appendLog(state, chunk) {
  state.log += chunk.toString();
  if (state.log.length > MAX_LOG_CHARS) state.log = state.log.slice(-MAX_LOG_CHARS);
}

async function waitReady(state, url) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (state.exited) {
      throw new Error(
        `quiver exited before it was ready (code ${state.exitCode}, signal ${state.exitSignal})\n` +
          `--- server output ---\n${state.log}`,
      );
    }
    try {
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) });
      const body = await res.text();
      if (res.status === 200) return;
      last = `HTTP ${res.status} ${body.slice(0, 200)}`;
    } catch (e) {
      last = `${e.name}: ${e.cause?.code ?? e.message}`;
    }
    await sleep(50);
  }
  throw new Error(
    `quiver did not answer 200 on GET /readyz within ${READY_TIMEOUT_MS} ms (last: ${last})\n` +
      `--- server output ---\n${state.log}`,
  );
}

function tcpConnect(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    sock.setTimeout(2_000);
    sock.once('connect', () => {
      sock.destroy();
      resolve();
    });
    sock.once('timeout', () => {
      sock.destroy();
      reject(new Error('connect timeout'));
    });
    sock.once('error', reject);
  });
}

/** Waits until something accepts TCP connections on 127.0.0.1:port (the gRPC listener). */
async function waitTcp(state, port) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (state.exited) {
      throw new Error(
        `quiver exited before its gRPC port was ready (code ${state.exitCode}, signal ${state.exitSignal})\n` +
          `--- server output ---\n${state.log}`,
      );
    }
    try {
      await tcpConnect(port);
      return;
    } catch (e) {
      last = `${e.code ?? e.message}`;
    }
    await sleep(50);
  }
  throw new Error(
    `quiver's gRPC port ${port} did not accept connections within ${READY_TIMEOUT_MS} ms (last: ${last})\n` +
      `--- server output ---\n${state.log}`,
  );
}

async function startOnce(extraEnv) {
  const [httpPort, grpcPort] = await freePorts(2);
  const storageDir = mkdtempSync(path.join(os.tmpdir(), 'quiver-js-'));
  const env = {
    ...process.env,
    QDRANT__SERVICE__HOST: '127.0.0.1',
    QDRANT__SERVICE__HTTP_PORT: String(httpPort),
    QDRANT__SERVICE__GRPC_PORT: String(grpcPort),
    QDRANT__STORAGE__STORAGE_PATH: storageDir,
    ...extraEnv,
  };
  // Run inside the fresh storage directory so that a config/config.yaml in
  // the caller's working directory is never picked up.
  const proc = spawn(QUIVER_BIN, [], { cwd: storageDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const state = { log: '', exited: false, exitCode: null, exitSignal: null };
  const exited = new Promise((resolve) => {
    proc.once('exit', (code, signal) => {
      state.exited = true;
      state.exitCode = code;
      state.exitSignal = signal;
      resolve({ code, signal });
    });
  });
  const spawnError = new Promise((_, reject) => proc.once('error', reject));
  proc.stdout.on('data', (c) => appendLog(state, c));
  proc.stderr.on('data', (c) => appendLog(state, c));

  const url = `http://127.0.0.1:${httpPort}`;
  try {
    await Promise.race([waitReady(state, url), spawnError]);
    await Promise.race([waitTcp(state, grpcPort), spawnError]);
  } catch (e) {
    if (!state.exited) proc.kill('SIGKILL');
    await Promise.race([exited, sleep(2_000, null, { ref: false })]);
    rmSync(storageDir, { recursive: true, force: true });
    e.serverExitedEarly = state.exited;
    throw e;
  }

  let stopped = false;
  return {
    url,
    httpPort,
    grpcPort,
    storageDir,
    pid: proc.pid,
    /** Everything the server printed so far (tail). */
    log: () => state.log,
    /** SIGTERM, wait for exit, assert exit code 0, remove the storage dir. */
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        if (!state.exited) proc.kill('SIGTERM');
        // An unref'd timer: it must not keep the test process alive once the server has exited.
        const res = await Promise.race([exited, sleep(STOP_TIMEOUT_MS, null, { ref: false })]);
        if (res === null) {
          proc.kill('SIGKILL');
          await exited;
          assert.fail(
            `quiver did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM\n--- server output ---\n${state.log}`,
          );
        }
        assert.deepEqual(
          { code: res.code, signal: res.signal },
          { code: 0, signal: null },
          `quiver should exit 0 after SIGTERM\n--- server output ---\n${state.log}`,
        );
      } finally {
        rmSync(storageDir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * Starts a fresh server.  Retries (with new ports) if the process dies before
 * it is ready, which is what losing a race for a "free" port looks like.
 */
export async function startServer(extraEnv = {}) {
  if (!existsSync(QUIVER_BIN)) {
    throw new Error(
      `quiver binary not found at ${QUIVER_BIN}; build it (make BUILD=release) or set QUIVER_BIN`,
    );
  }
  let lastError;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(extraEnv);
    } catch (e) {
      lastError = e;
      if (!e.serverExitedEarly) break;
    }
  }
  throw lastError;
}

/** Raw HTTP request; returns { status, headers, text, json } without any JSON re-encoding of the body. */
export async function rawRequest(baseUrl, method, urlPath, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    init.headers['content-type'] = 'application/json';
  }
  const res = await fetch(baseUrl + urlPath, init);
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}
