// PostgresMessageStore over TLS, against real servers (support/tls-server.mjs, started
// by jest's globalSetup): libpq's sslmode meanings, root and client certificates as
// paths, text and Buffers, and each refusal with its own code and a clear message.
// The servers accept TLS only (pg_hba `hostnossl … reject`) and SCRAM-SHA-256 only for
// passwords, so a connection that works went over TLS with SCRAM.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { PostgresMessageStore } from '@auto-engineer/message-store';
import { take } from './support/pull';

type Server = { port: number; cert: string };
const tls = JSON.parse(process.env.MESSAGE_STORE_TLS ?? 'null') as {
  ca: string;
  otherCa: string;
  client: { cert: string; key: string };
  servers: { good: Server; expired: Server; otherHost: Server; unknownCa: Server };
  password: string;
};
const plainUrl = process.env.DATABASE_URL as string;

function url(server: Server, { user = 'app', password = tls.password as string | null, host = '127.0.0.1', query = '' } = {}) {
  const who = password === null ? user : `${user}:${encodeURIComponent(password)}`;
  return `postgres://${who}@${host}:${server.port}/postgres${query ? `?${query}` : ''}`;
}

/**
 * A server that closes the connection during the handshake: after answering the
 * client's TLS request with yes (`after-tls-yes`), or at its first packet (`at-once`).
 */
async function startClosingServer(mode: string) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('data', () => {
      if (mode === 'after-tls-yes') socket.end('S', () => socket.destroy());
      else socket.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    stop: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let schemas = 0;
const open: PostgresMessageStore[] = [];
function store(connectionString: string, ssl?: Record<string, unknown>, user = 'app') {
  const s = new PostgresMessageStore({ connectionString, schema: `tls_${user}_${process.pid}_${++schemas}`, ssl });
  open.push(s);
  return s;
}
afterAll(async () => {
  await Promise.all(open.map((s) => s.dispose()));
});

/** Saves one message and reads it back: the values a working connection gives. */
async function roundTrip(s: PostgresMessageStore) {
  await s.saveMessage('tls', { type: 'Checked', data: { over: 'tls' } });
  const [m] = await s.getMessages('tls');
  return [m.streamId, m.revision, m.position, m.message.type, m.message.data];
}
const WORKED = ['tls', 0n, 1n, 'Checked', { over: 'tls' }];

/** The first call's rejection, as code and message. */
async function refusal(s: PostgresMessageStore) {
  const e = await s.getStats().then(
    () => null,
    (err) => err,
  );
  expect(e).toBeInstanceOf(Error);
  return { code: e.code as string, message: e.message as string };
}

const at = (server: Server | { port: number }) => `cannot connect to PostgreSQL at 127\\.0\\.0\\.1:${server.port}: `;

test('the TLS servers are there (a missing one is a failure, not a skip)', () => {
  expect(tls).not.toBeNull();
  expect(Object.keys(tls.servers).sort()).toEqual(['expired', 'good', 'otherHost', 'unknownCa']);
});

describe('verify-full', () => {
  test('with the CA as a path in the URL: saves and reads back', async () => {
    const s = store(url(tls.servers.good, { query: `sslmode=verify-full&sslrootcert=${encodeURIComponent(tls.ca)}` }));
    expect(await roundTrip(s)).toEqual(WORKED);
  });

  test('with the CA as PEM text and as a Buffer in options, by host name (localhost)', async () => {
    const pem = fs.readFileSync(tls.ca, 'utf8');
    const byText = store(url(tls.servers.good, { host: 'localhost' }), { mode: 'verify-full', rootCert: pem });
    expect(await roundTrip(byText)).toEqual(WORKED);
    const byBuffer = store(url(tls.servers.good), { mode: 'verify-full', rootCert: Buffer.from(pem) });
    expect(await roundTrip(byBuffer)).toEqual(WORKED);
  });

  test('options win over the URL: sslmode=disable in the URL, verify-full in options', async () => {
    const s = store(url(tls.servers.good, { query: 'sslmode=disable' }), { mode: 'verify-full', rootCert: tls.ca });
    expect(await roundTrip(s)).toEqual(WORKED);
  });

  test('a certificate for another host: ERR_MESSAGE_STORE_TLS_HOST_MISMATCH; verify-ca lets it through', async () => {
    const full = await refusal(store(url(tls.servers.otherHost), { mode: 'verify-full', rootCert: tls.ca }));
    expect(full.code).toBe('ERR_MESSAGE_STORE_TLS_HOST_MISMATCH');
    expect(full.message).toMatch(
      new RegExp(
        `^${at(tls.servers.otherHost)}the server's certificate does not name the host connected to \\(sslmode=verify-full\\): .*"db\\.example\\.com"`,
      ),
    );
    expect(await roundTrip(store(url(tls.servers.otherHost), { mode: 'verify-ca', rootCert: tls.ca }))).toEqual(WORKED);
  });

  test('an expired certificate: ERR_MESSAGE_STORE_TLS_CERT_EXPIRED (verify-ca too)', async () => {
    for (const mode of ['verify-full', 'verify-ca']) {
      const r = await refusal(store(url(tls.servers.expired), { mode, rootCert: tls.ca }));
      expect(r.code).toBe('ERR_MESSAGE_STORE_TLS_CERT_EXPIRED');
      expect(r.message).toMatch(new RegExp(`^${at(tls.servers.expired)}the server's certificate has expired or is not valid yet: `));
    }
  });

  test('a certificate from an authority not trusted: ERR_MESSAGE_STORE_TLS_UNKNOWN_CA', async () => {
    const r = await refusal(store(url(tls.servers.unknownCa), { mode: 'verify-full', rootCert: tls.ca }));
    expect(r.code).toBe('ERR_MESSAGE_STORE_TLS_UNKNOWN_CA');
    expect(r.message).toMatch(
      new RegExp(
        `^${at(tls.servers.unknownCa)}the server's certificate is not signed by a trusted authority \\(sslrootcert, or the bundled public roots\\): .*UnknownIssuer`,
      ),
    );
    // Trusting the other authority instead lets the same server through.
    expect(await roundTrip(store(url(tls.servers.unknownCa), { mode: 'verify-full', rootCert: tls.otherCa }))).toEqual(WORKED);
  });

  test('without a root certificate (or with "system"), the bundled public roots are used: our test CA is not among them', async () => {
    for (const ssl of [{ mode: 'verify-full' }, { mode: 'verify-ca', rootCert: 'system' }]) {
      const r = await refusal(store(url(tls.servers.good), ssl));
      expect(r.code).toBe('ERR_MESSAGE_STORE_TLS_UNKNOWN_CA');
    }
  });

  test('a subscription over TLS (its listening connection too) receives what another instance saves', async () => {
    const connectionString = url(tls.servers.good, { query: 'sslmode=verify-full' });
    const schema = `tls_live_${process.pid}`;
    const reader = new PostgresMessageStore({ connectionString, schema, ssl: { rootCert: tls.ca } });
    const writer = new PostgresMessageStore({ connectionString, schema, ssl: { rootCert: tls.ca } });
    open.push(reader, writer);
    await writer.saveMessage('live', { type: 'First', data: {} });
    const sub = reader.subscribe();
    const received = take(sub, 3);
    await writer.saveMessages('live', [
      { type: 'Second', data: {} },
      { type: 'Third', data: {} },
    ]);
    const got = await received;
    await sub.close();
    expect(got.map((m) => [m.message.type, m.position])).toEqual([
      ['First', 1n],
      ['Second', 2n],
      ['Third', 3n],
    ]);
  });
});

describe("require and prefer: libpq's meanings", () => {
  test('without a root certificate they encrypt without checking the certificate (any authority, any date)', async () => {
    for (const server of [tls.servers.unknownCa, tls.servers.expired, tls.servers.otherHost]) {
      expect(await roundTrip(store(url(server, { query: 'sslmode=require' })))).toEqual(WORKED);
    }
    // prefer is the default: the same server, no sslmode given, over TLS (its pg_hba takes nothing else).
    expect(await roundTrip(store(url(tls.servers.unknownCa)))).toEqual(WORKED);
  });

  test('with a root certificate they check the chain, as verify-ca', async () => {
    for (const mode of ['require', 'prefer']) {
      const r = await refusal(store(url(tls.servers.unknownCa), { mode, rootCert: tls.ca }));
      expect(r.code).toBe('ERR_MESSAGE_STORE_TLS_UNKNOWN_CA');
    }
  });

  test('TLS required but the server has none: ERR_MESSAGE_STORE_TLS_UNAVAILABLE; prefer goes on without', async () => {
    const plainPort = new URL(plainUrl).port;
    for (const mode of ['require', 'verify-ca', 'verify-full']) {
      const r = await refusal(store(plainUrl, { mode, rootCert: tls.ca }));
      expect(r).toEqual({
        code: 'ERR_MESSAGE_STORE_TLS_UNAVAILABLE',
        message: `cannot connect to PostgreSQL at 127.0.0.1:${plainPort}: TLS is required (sslmode) but the server offers none: error performing TLS handshake: server does not support TLS`,
      });
    }
    expect(await roundTrip(store(plainUrl, { mode: 'prefer' }))).toEqual(WORKED);
  });

  test('sslmode=disable against a server that takes only TLS: refused by its rules, ERR_MESSAGE_STORE_AUTH_FAILED', async () => {
    const r = await refusal(store(url(tls.servers.good, { query: 'sslmode=disable' })));
    expect(r.code).toBe('ERR_MESSAGE_STORE_AUTH_FAILED');
    expect(r.message).toMatch(/pg_hba\.conf rejects connection for host "127\.0\.0\.1", user "app", database "postgres", no encryption$/);
  });
});

describe('authentication', () => {
  test('a wrong password: ERR_MESSAGE_STORE_AUTH_FAILED, and neither password is in the message', async () => {
    const wrong = 'not-the-Pa55word';
    const r = await refusal(store(url(tls.servers.good, { password: wrong }), { mode: 'verify-full', rootCert: tls.ca }));
    expect(r).toEqual({
      code: 'ERR_MESSAGE_STORE_AUTH_FAILED',
      message: `cannot connect to PostgreSQL at 127.0.0.1:${tls.servers.good.port}: the server refused the user (a wrong or missing password, or no pg_hba.conf rule that lets it in): db error: FATAL: password authentication failed for user "app"`,
    });
    expect(r.message).not.toContain(wrong);
    expect(r.message).not.toContain(tls.password);
  });

  test('no password at all: ERR_MESSAGE_STORE_AUTH_FAILED', async () => {
    const r = await refusal(store(url(tls.servers.good, { password: null }), { mode: 'verify-full', rootCert: tls.ca }));
    expect(r.code).toBe('ERR_MESSAGE_STORE_AUTH_FAILED');
    expect(r.message).toMatch(/password missing$/);
  });

  test('a client certificate (pg_hba method cert): as paths, and as PEM text; without it, refused', async () => {
    const who = { user: 'certuser', password: null };
    const byPath = store(
      url(tls.servers.good, who),
      { mode: 'verify-full', rootCert: tls.ca, cert: tls.client.cert, key: tls.client.key },
      'cert',
    );
    expect(await roundTrip(byPath)).toEqual(WORKED);
    const text = (f: string) => fs.readFileSync(f, 'utf8');
    expect(text(tls.client.key)).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
    const byText = store(
      url(tls.servers.good, { ...who, query: 'sslmode=verify-full' }),
      { rootCert: text(tls.ca), cert: text(tls.client.cert), key: text(tls.client.key) },
      'cert',
    );
    expect(await roundTrip(byText)).toEqual(WORKED);
    const without = await refusal(store(url(tls.servers.good, who), { mode: 'verify-full', rootCert: tls.ca }, 'cert'));
    expect(without.code).toBe('ERR_MESSAGE_STORE_AUTH_FAILED');
    expect(without.message).toMatch(/connection requires a valid client certificate$/);
  });

  test('a server that closes the connection during the handshake: ERR_MESSAGE_STORE_HANDSHAKE_CLOSED', async () => {
    for (const [mode, sslmode, said] of [
      ['after-tls-yes', 'require', 'error performing TLS handshake: tls handshake eof'],
      ['at-once', 'prefer', 'error communicating with the server: early eof'],
    ]) {
      const closing = await startClosingServer(mode);
      try {
        const r = await refusal(store(`postgres://app:${tls.password}@127.0.0.1:${closing.port}/postgres?sslmode=${sslmode}`));
        expect(r).toEqual({
          code: 'ERR_MESSAGE_STORE_HANDSHAKE_CLOSED',
          message: `cannot connect to PostgreSQL at 127.0.0.1:${closing.port}: the server closed the connection during the handshake: ${said}`,
        });
      } finally {
        await closing.stop();
      }
    }
  });

  test('the password is in no debug line, for a connection that works and one that is refused', () => {
    const good = url(tls.servers.good, { query: 'sslmode=verify-full' });
    const bad = url(tls.servers.good, { password: 'Wr0ng-secret-77', query: 'sslmode=verify-full' });
    const script = `
      const { PostgresMessageStore } = require(${JSON.stringify(path.resolve(__dirname, '..'))});
      (async () => {
        for (const connectionString of [${JSON.stringify(good)}, ${JSON.stringify(bad)}]) {
          const s = new PostgresMessageStore({ connectionString, schema: 'tls_debug_${process.pid}', ssl: { rootCert: ${JSON.stringify(tls.ca)} } });
          await s.saveMessage('s', { type: 'A', data: {} }).then(() => console.log('saved'), (e) => console.log(e.code));
          await s.dispose();
        }
      })();`;
    const env = { ...process.env, DEBUG: 'auto:message-store:*', DEBUG_COLORS: 'no', DEBUG_HIDE_DATE: 'yes' };
    const { stdout, stderr, status } = spawnSync(process.execPath, ['-e', script], { env, encoding: 'utf8' });
    expect({ status, stdout }).toEqual({ status: 0, stdout: 'saved\nERR_MESSAGE_STORE_AUTH_FAILED\n' });
    const on = `auto:message-store:postgres PostgresMessageStore on schema tls_debug_${process.pid} at 127.0.0.1:${tls.servers.good.port} (sslmode verify-full).`;
    expect(stderr.split('\n').filter((l) => l.includes('on schema'))).toEqual([on, on]);
    expect(stderr).not.toContain(tls.password);
    expect(stderr).not.toContain('Wr0ng-secret-77');
  });
});

describe('bad TLS settings are refused in the constructor, as TypeErrors, quoting no secret', () => {
  const make = (connectionString: string, ssl?: unknown) => () => new PostgresMessageStore({ connectionString, ssl } as never);
  const u = 'postgres://app:Top-Secret-9@127.0.0.1:1/postgres';
  test.each([
    [
      u,
      { mode: 'allow' },
      "options.ssl.mode must be one of 'disable', 'prefer', 'require', 'verify-ca', 'verify-full', got the string \"allow\"",
    ],
    [`${u}?sslmode=allow`, undefined, 'sslmode "allow" is not supported: use "prefer" or a stricter mode'],
    [`${u}?sslmode=on`, undefined, 'sslmode must be one of disable, prefer, require, verify-ca, verify-full, got "on"'],
    [u, { cert: '/x.crt' }, 'sslcert is given without sslkey'],
    [u, { key: '-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----' }, 'sslkey is given without sslcert'],
    [u, { key: 42 }, "options.ssl.key must be PEM text (a string or a Buffer) or a file's path, got number"],
    [u, { rootCert: '/no/such/ca.pem' }, 'sslrootcert: cannot read "/no/such/ca.pem": No such file or directory (os error 2)'],
    [
      u,
      { rootCert: '-----BEGIN NOTHING-----\n-----END NOTHING-----\n' },
      'sslrootcert holds no certificate ("-----BEGIN CERTIFICATE-----")',
    ],
    [u, 'verify-full', 'options.ssl must be an object ({ mode, rootCert, cert, key }), got the string "verify-full"'],
    ['postgres://app:Top-Secret-9@h:port/db', undefined, 'the connection string does not parse: invalid connection string'],
  ])('%s %j', (connectionString, ssl, message) => {
    expect(make(connectionString, ssl)).toThrow(new TypeError(message));
    try {
      make(connectionString, ssl)();
    } catch (e) {
      expect((e as Error).message).not.toContain('Top-Secret-9');
      expect((e as Error).message).not.toContain('secret\n');
    }
  });
});
