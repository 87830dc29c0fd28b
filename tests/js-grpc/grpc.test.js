// grpc.test.js - Quiver's gRPC API through the official @qdrant/js-client-grpc client.
//
// Run: QUIVER_BIN=/path/to/quiver node --test
//
// One server is started for the whole file; every test uses its own
// collection(s).  Requests go through `new QdrantClient({host, port})` with
// the client's defaults (gzip request compression included).  Expected
// results are computed here from the data the tests send, never copied from
// the server's answers.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CollectionStatus,
  ConnectError,
  ConnectErrorCode,
  Distance,
  FieldType,
  PayloadSchemaType,
  QdrantClient,
  UpdateStatus,
  toDenseVector,
} from '@qdrant/js-client-grpc';
// The transport's gzip codec (a dependency of the client).  The file-level
// spy below counts how often the client really gzips a request.
import { compressionGzip } from '@connectrpc/connect-node';

import { startServer } from './helpers.js';

// ---------------------------------------------------------------------------
// Spy on request compression.  connect-node compresses messages of at least
// 1024 bytes when sendCompression is set, which QdrantClient does by default.
let gzipCompressCalls = 0;
const realCompress = compressionGzip.compress;
compressionGzip.compress = function compressSpy(bytes) {
  gzipCompressCalls += 1;
  return realCompress.call(this, bytes);
};

// ---------------------------------------------------------------------------
// Proto builders and readers.

const num = (n) => ({ pointIdOptions: { case: 'num', value: BigInt(n) } });
const uuid = (s) => ({ pointIdOptions: { case: 'uuid', value: s } });
/** PointId -> bigint (numeric ids) or string (UUIDs). */
const idOf = (pid) => {
  assert.ok(pid && pid.pointIdOptions, `not a PointId: ${show(pid)}`);
  const { case: c, value } = pid.pointIdOptions;
  assert.ok(c === 'num' || c === 'uuid', `PointId without a value: ${show(pid)}`);
  return value;
};
const denseVec = (data) => ({ vector: { case: 'dense', value: { data } } });
const single = (data) => ({ vectorsOptions: { case: 'vector', value: denseVec(data) } });
const named = (obj) => ({
  vectorsOptions: {
    case: 'vectors',
    value: { vectors: Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, denseVec(v)])) },
  },
});

/** JS value -> qdrant.Value.  bigint -> integer, number -> double. */
function val(x) {
  if (x === null) return { kind: { case: 'nullValue', value: 0 } };
  if (typeof x === 'bigint') return { kind: { case: 'integerValue', value: x } };
  if (typeof x === 'number') return { kind: { case: 'doubleValue', value: x } };
  if (typeof x === 'string') return { kind: { case: 'stringValue', value: x } };
  if (typeof x === 'boolean') return { kind: { case: 'boolValue', value: x } };
  if (Array.isArray(x)) return { kind: { case: 'listValue', value: { values: x.map(val) } } };
  return { kind: { case: 'structValue', value: { fields: payloadOf(x) } } };
}
/** JS object -> map<string, Value>. */
function payloadOf(obj) {
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, val(v)]));
}
/** qdrant.Value -> JS value (inverse of val). */
function unval(v) {
  const { case: c, value } = v.kind;
  switch (c) {
    case 'nullValue':
      return null;
    case 'integerValue':
      return BigInt(value);
    case 'doubleValue':
    case 'stringValue':
    case 'boolValue':
      return value;
    case 'listValue':
      return value.values.map(unval);
    case 'structValue':
      return unpayload(value.fields);
    default:
      assert.fail(`Value without a kind: ${show(v)}`);
  }
}
/** map<string, Value> -> JS object. */
function unpayload(map) {
  return Object.fromEntries(Object.entries(map ?? {}).map(([k, v]) => [k, unval(v)]));
}
/** VectorsOutput -> number[] (single dense vector) or {name: number[]} (named vectors). */
function vectorsOf(vo) {
  assert.ok(vo, 'point has no vectors');
  const { case: c, value } = vo.vectorsOptions;
  if (c === 'vector') return toDenseVector(value).data;
  assert.equal(c, 'vectors', `unexpected VectorsOutput: ${show(vo)}`);
  return Object.fromEntries(Object.entries(value.vectors).map(([k, v]) => [k, toDenseVector(v).data]));
}

const withPayload = (enable = true) => ({ selectorOptions: { case: 'enable', value: enable } });
const withVectors = (enable = true) => ({ selectorOptions: { case: 'enable', value: enable } });
const idsSelector = (ids) => ({ pointsSelectorOneOf: { case: 'points', value: { ids } } });
const filterSelector = (filter) => ({ pointsSelectorOneOf: { case: 'filter', value: filter } });

const matchKeyword = (key, keyword) => ({
  conditionOneOf: { case: 'field', value: { key, match: { matchValue: { case: 'keyword', value: keyword } } } },
});
const matchInteger = (key, n) => ({
  conditionOneOf: { case: 'field', value: { key, match: { matchValue: { case: 'integer', value: BigInt(n) } } } },
});
const range = (key, r) => ({ conditionOneOf: { case: 'field', value: { key, range: r } } });
const hasId = (ids) => ({ conditionOneOf: { case: 'hasId', value: { hasId: ids } } });
const nearest = (data) => ({ variant: { case: 'nearest', value: { variant: { case: 'dense', value: { data } } } } });

function show(x) {
  return JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));
}
const cmpId = (a, b) => {
  // numeric ids (bigint) before UUIDs (string); each kind in its natural order
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'bigint') return -1;
  if (typeof b === 'bigint') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
};
const dot = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0);
const l2 = (a, b) => Math.sqrt(a.reduce((s, x, i) => s + (x - b[i]) ** 2, 0));

/** Awaits `promise`, which must reject with a ConnectError of gRPC status `code`. */
async function expectGrpcError(promise, code, what, messageIncludes) {
  let err;
  try {
    const res = await promise;
    assert.fail(`${what}: expected gRPC status ${ConnectErrorCode[code]} (${code}), got success ${show(res)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    err = e;
  }
  assert.ok(err instanceof ConnectError, `${what}: expected a ConnectError, got ${err}`);
  assert.equal(
    err.code,
    code,
    `${what}: expected gRPC status ${ConnectErrorCode[code]} (${code}), got ${ConnectErrorCode[err.code]} (${err.code}): ${err.rawMessage}`,
  );
  if (messageIncludes !== undefined) {
    assert.ok(
      err.rawMessage.includes(messageIncludes),
      `${what}: message should contain ${JSON.stringify(messageIncludes)}, got ${JSON.stringify(err.rawMessage)}`,
    );
  }
  return err;
}

// ---------------------------------------------------------------------------

let server;
let client;
let collectionsApi;
let pointsApi;

before(async () => {
  server = await startServer();
  client = new QdrantClient({ host: '127.0.0.1', port: server.grpcPort });
  collectionsApi = client.api('collections');
  pointsApi = client.api('points');
});

after(async () => {
  if (server) await server.stop();
});

async function createCollection(collectionName, vectorsConfig) {
  const res = await collectionsApi.create({ collectionName, vectorsConfig });
  assert.equal(res.result, true, `create ${collectionName}: ${show(res)}`);
}
const singleConfig = (size, distance) => ({ config: { case: 'params', value: { size: BigInt(size), distance } } });
const namedConfig = (map) => ({
  config: {
    case: 'paramsMap',
    value: {
      map: Object.fromEntries(
        Object.entries(map).map(([k, [size, distance]]) => [k, { size: BigInt(size), distance }]),
      ),
    },
  },
});

async function upsert(collectionName, points) {
  const res = await pointsApi.upsert({ collectionName, wait: true, points });
  assert.equal(res.result?.status, UpdateStatus.Completed, `upsert into ${collectionName}: ${show(res)}`);
  assert.equal(typeof res.result.operationId, 'bigint', `upsert must set operation_id: ${show(res)}`);
  return res;
}

async function countPoints(collectionName, filter) {
  const res = await pointsApi.count({ collectionName, exact: true, ...(filter ? { filter } : {}) });
  return res.result.count;
}

// ---------------------------------------------------------------------------

describe('service', () => {
  it('HealthCheck answers with title, version 1.19.0 and a 40-hex commit', async () => {
    const res = await client.api('service').healthCheck({});
    assert.equal(res.title, 'qdrant - vector search engine');
    assert.equal(res.version, '1.19.0');
    assert.match(res.commit ?? '', /^[0-9a-f]{40}$/);
  });
});

describe('collections', () => {
  it('create, exists, get, list, duplicate create, delete', async () => {
    const name = 'coll_lifecycle';
    const other = 'coll_lifecycle_aaa';

    const ex0 = await collectionsApi.collectionExists({ collectionName: name });
    assert.equal(ex0.result.exists, false);

    await createCollection(name, singleConfig(4, Distance.Dot));
    await createCollection(other, singleConfig(2, Distance.Cosine));

    const ex1 = await collectionsApi.collectionExists({ collectionName: name });
    assert.equal(ex1.result.exists, true);

    const info = await collectionsApi.get({ collectionName: name });
    assert.equal(info.result.status, CollectionStatus.Green);
    assert.equal(info.result.pointsCount, 0n);
    const vc = info.result.config.params.vectorsConfig.config;
    assert.equal(vc.case, 'params', `vectors config: ${show(vc)}`);
    assert.equal(vc.value.size, 4n);
    assert.equal(vc.value.distance, Distance.Dot);

    const list = await collectionsApi.list({});
    const names = list.collections.map((c) => c.name);
    assert.ok(names.includes(name), `list should contain ${name}: ${show(names)}`);
    assert.ok(names.includes(other), `list should contain ${other}: ${show(names)}`);

    await expectGrpcError(
      collectionsApi.create({ collectionName: name, vectorsConfig: singleConfig(4, Distance.Dot) }),
      ConnectErrorCode.AlreadyExists,
      'creating an existing collection',
      'already exists',
    );

    const del = await collectionsApi.delete({ collectionName: name });
    assert.equal(del.result, true);
    const ex2 = await collectionsApi.collectionExists({ collectionName: name });
    assert.equal(ex2.result.exists, false);
    const names2 = (await collectionsApi.list({})).collections.map((c) => c.name);
    assert.ok(!names2.includes(name), `list should no longer contain ${name}: ${show(names2)}`);
    assert.ok(names2.includes(other));

    // Deleting a missing collection is not an error; the result is false.
    const del2 = await collectionsApi.delete({ collectionName: name });
    assert.equal(del2.result, false);

    assert.equal((await collectionsApi.delete({ collectionName: other })).result, true);
  });

  it('named vectors configuration round-trips through Get', async () => {
    const name = 'coll_named_cfg';
    await createCollection(name, namedConfig({ image: [3, Distance.Dot], text: [2, Distance.Euclid] }));
    const info = await collectionsApi.get({ collectionName: name });
    const vc = info.result.config.params.vectorsConfig.config;
    assert.equal(vc.case, 'paramsMap', `vectors config: ${show(vc)}`);
    const got = Object.fromEntries(
      Object.entries(vc.value.map).map(([k, p]) => [k, [p.size, p.distance]]),
    );
    assert.deepEqual(got, { image: [3n, Distance.Dot], text: [2n, Distance.Euclid] });
    assert.equal((await collectionsApi.delete({ collectionName: name })).result, true);
  });
});

describe('points', () => {
  it('upsert and get with integer ids (up to 2^64-1) and payload values of every kind', async () => {
    const name = 'pts_int_ids';
    await createCollection(name, singleConfig(4, Distance.Dot));
    const maxId = 2n ** 64n - 1n;
    const bigId = 2n ** 53n + 1n; // not representable as a double
    const pts = [
      {
        id: 1n,
        vector: [1, 2, 3, 4],
        payload: {
          s: 'hello',
          i: -42n,
          big: 9007199254740993n,
          d: 3.25,
          b: true,
          nul: null,
          list: ['a', 1n, 2.5, false],
          obj: { nested: { k: 'v' }, arr: [1n, 2n] },
        },
      },
      { id: bigId, vector: [0.5, -0.25, 0, 8], payload: { s: 'big' } },
      { id: maxId, vector: [-1, -2, -3, -4], payload: {} },
    ];
    await upsert(
      name,
      pts.map((p) => ({ id: num(p.id), vectors: single(p.vector), payload: payloadOf(p.payload) })),
    );

    const res = await pointsApi.get({
      collectionName: name,
      ids: [num(maxId), num(1n), num(bigId), num(777n)],
      withPayload: withPayload(true),
      withVectors: withVectors(true),
    });
    const byId = new Map(res.result.map((p) => [idOf(p.id), p]));
    assert.deepEqual([...byId.keys()].sort(cmpId), [1n, bigId, maxId], 'missing id 777 must be skipped');
    for (const p of pts) {
      const got = byId.get(p.id);
      assert.deepEqual(unpayload(got.payload), p.payload, `payload of ${p.id}`);
      // Dot: vectors are returned as stored (all components exact in float32)
      assert.deepEqual(vectorsOf(got.vectors), p.vector, `vector of ${p.id}`);
    }

    // Explicitly no payload and no vectors.
    const bare = await pointsApi.get({
      collectionName: name,
      ids: [num(1n)],
      withPayload: withPayload(false),
      withVectors: withVectors(false),
    });
    assert.equal(bare.result.length, 1);
    assert.deepEqual(unpayload(bare.result[0].payload), {});
    assert.equal(bare.result[0].vectors, undefined, `vectors should be absent: ${show(bare.result[0])}`);

    const info = await collectionsApi.get({ collectionName: name });
    assert.equal(info.result.pointsCount, 3n);
    assert.equal((await collectionsApi.delete({ collectionName: name })).result, true);
  });

  it('upsert and get with UUID ids (any accepted spelling, returned lowercase hyphenated)', async () => {
    const name = 'pts_uuid_ids';
    await createCollection(name, singleConfig(2, Distance.Dot));
    const a = '550e8400-e29b-41d4-a716-446655440000';
    const b = '6ba7b810-9dad-11d1-80b4-00c04fd430c8';
    const c = 'f47ac10b-58cc-4372-a567-0e02b2c3d479';
    await upsert(name, [
      { id: uuid(a.toUpperCase()), vectors: single([1, 0]), payload: payloadOf({ n: 1n }) },
      { id: uuid(b.replaceAll('-', '')), vectors: single([0, 1]), payload: payloadOf({ n: 2n }) },
      { id: uuid(c), vectors: single([1, 1]), payload: payloadOf({ n: 3n }) },
      { id: num(5n), vectors: single([2, 2]), payload: payloadOf({ n: 4n }) },
    ]);

    const res = await pointsApi.get({
      collectionName: name,
      ids: [uuid(a), uuid(b.toUpperCase()), uuid(c), num(5n)],
      withPayload: withPayload(true),
      withVectors: withVectors(true),
    });
    const got = new Map(res.result.map((p) => [idOf(p.id), [unpayload(p.payload), vectorsOf(p.vectors)]]));
    assert.deepEqual(
      Object.fromEntries([...got].map(([k, v]) => [String(k), v])),
      {
        [a]: [{ n: 1n }, [1, 0]],
        [b]: [{ n: 2n }, [0, 1]],
        [c]: [{ n: 3n }, [1, 1]],
        5: [{ n: 4n }, [2, 2]],
      },
    );
    for (const p of res.result) {
      if (p.id.pointIdOptions.case === 'uuid') {
        assert.match(p.id.pointIdOptions.value, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      }
    }

    // Re-upserting the same UUID in another spelling overwrites, not duplicates.
    await upsert(name, [{ id: uuid(`{${a}}`.toUpperCase()), vectors: single([3, 3]), payload: payloadOf({ n: 9n }) }]);
    assert.equal(await countPoints(name), 4n);

    // Scroll: numeric ids first, then UUIDs.
    const sc = await pointsApi.scroll({ collectionName: name, limit: 10, withPayload: withPayload(true) });
    assert.deepEqual(
      sc.result.map((p) => idOf(p.id)),
      [5n, a, b, c].sort(cmpId),
    );
    assert.deepEqual(unpayload(sc.result.find((p) => idOf(p.id) === a).payload), { n: 9n });
    assert.equal(sc.nextPageOffset, undefined);
    assert.equal((await collectionsApi.delete({ collectionName: name })).result, true);
  });

  it('upsert accepts the deprecated Vector.data encoding (single and named)', async () => {
    const name = 'pts_deprecated_data';
    await createCollection(name, singleConfig(3, Distance.Dot));
    await upsert(name, [
      { id: num(1n), vectors: { vectorsOptions: { case: 'vector', value: { data: [1, 2, 3] } } } },
      { id: num(2n), vectors: single([4, 5, 6]) },
    ]);
    const g = await pointsApi.get({ collectionName: name, ids: [num(1n), num(2n)], withVectors: withVectors(true) });
    const byId = new Map(g.result.map((p) => [idOf(p.id), vectorsOf(p.vectors)]));
    assert.deepEqual(byId.get(1n), [1, 2, 3]);
    assert.deepEqual(byId.get(2n), [4, 5, 6]);
    assert.equal((await collectionsApi.delete({ collectionName: name })).result, true);

    const named2 = 'pts_deprecated_data_named';
    await createCollection(named2, namedConfig({ v: [2, Distance.Dot] }));
    await upsert(named2, [
      { id: num(7n), vectors: { vectorsOptions: { case: 'vectors', value: { vectors: { v: { data: [0.5, -1] } } } } } },
    ]);
    const g2 = await pointsApi.get({ collectionName: named2, ids: [num(7n)], withVectors: withVectors(true) });
    assert.equal(g2.result.length, 1);
    assert.deepEqual(vectorsOf(g2.result[0].vectors), { v: [0.5, -1] });
    assert.equal((await collectionsApi.delete({ collectionName: named2 })).result, true);
  });

  it('a large (gzip-compressed) upsert batch is stored completely', async () => {
    const name = 'pts_gzip';
    await createCollection(name, singleConfig(8, Distance.Dot));
    const before = gzipCompressCalls;
    const N = 300;
    const points = [];
    for (let i = 0; i < N; i++) {
      points.push({
        id: num(BigInt(i + 1)),
        vectors: single(Array.from({ length: 8 }, (_, k) => ((i * (k + 3)) % 17) / 4)),
        payload: payloadOf({ i: BigInt(i), text: `point number ${i} `.repeat(4) }),
      });
    }
    await upsert(name, points);
    assert.ok(
      gzipCompressCalls > before,
      'the client should have gzip-compressed this request (QdrantClient default compression)',
    );
    assert.equal(await countPoints(name), BigInt(N));
    const g = await pointsApi.get({
      collectionName: name,
      ids: [num(1n), num(150n), num(300n)],
      withPayload: withPayload(true),
      withVectors: withVectors(true),
    });
    const byId = new Map(g.result.map((p) => [idOf(p.id), p]));
    for (const id of [1, 150, 300]) {
      const i = id - 1;
      const p = byId.get(BigInt(id));
      assert.ok(p, `point ${id} missing`);
      assert.deepEqual(unpayload(p.payload), { i: BigInt(i), text: `point number ${i} `.repeat(4) });
      assert.deepEqual(
        vectorsOf(p.vectors),
        Array.from({ length: 8 }, (_, k) => ((i * (k + 3)) % 17) / 4),
      );
    }
    assert.equal((await collectionsApi.delete({ collectionName: name })).result, true);
  });

  it('named vectors: upsert, get (all and selected names), query using each name', async () => {
    const name = 'pts_named';
    await createCollection(name, namedConfig({ image: [3, Distance.Dot], text: [2, Distance.Euclid] }));
    const pts = [
      { id: 1n, v: { image: [1, 0, 0], text: [0, 0] } },
      { id: 2n, v: { image: [0, 2, 0], text: [3, 4] } },
      { id: 3n, v: { image: [0, 0, 3], text: [1, 1] } },
      { id: 4n, v: { image: [1, 1, 1] } }, // no "text" vector
      { id: 5n, v: { text: [-2, 0.5] } }, // no "image" vector
    ];
    await upsert(
      name,
      pts.map((p) => ({ id: num(p.id), vectors: named(p.v), payload: payloadOf({ id: p.id }) })),
    );

    const all = await pointsApi.get({
      collectionName: name,
      ids: pts.map((p) => num(p.id)),
      withPayload: withPayload(false),
      withVectors: withVectors(true),
    });
    const byId = new Map(all.result.map((p) => [idOf(p.id), vectorsOf(p.vectors)]));
    for (const p of pts) assert.deepEqual(byId.get(p.id), p.v, `vectors of ${p.id}`);

    const onlyText = await pointsApi.get({
      collectionName: name,
      ids: [num(2n), num(4n)],
      withVectors: { selectorOptions: { case: 'include', value: { names: ['text'] } } },
    });
    const ot = new Map(onlyText.result.map((p) => [idOf(p.id), vectorsOf(p.vectors)]));
    assert.deepEqual(ot.get(2n), { text: [3, 4] });
    assert.deepEqual(ot.get(4n), {});

    // Query "image" (Dot, descending); points without an image vector are not candidates.
    const qi = [0.5, 1, 2];
    const expImage = pts
      .filter((p) => p.v.image)
      .map((p) => ({ id: p.id, score: dot(p.v.image, qi) }))
      .sort((x, y) => y.score - x.score || cmpId(x.id, y.id));
    const ri = await pointsApi.query({ collectionName: name, query: nearest(qi), using: 'image', limit: 10n });
    assert.deepEqual(ri.result.map((p) => idOf(p.id)), expImage.map((e) => e.id));
    ri.result.forEach((p, k) => assert.ok(Math.abs(p.score - expImage[k].score) < 1e-5, `image score ${show(p)}`));

    // Query "text" (Euclid, ascending distance).
    const qt = [1, 2];
    const expText = pts
      .filter((p) => p.v.text)
      .map((p) => ({ id: p.id, score: l2(p.v.text, qt) }))
      .sort((x, y) => x.score - y.score || cmpId(x.id, y.id));
    const rt = await pointsApi.query({
      collectionName: name,
      query: nearest(qt),
      using: 'text',
      limit: 3n,
      withVectors: withVectors(true),
    });
    assert.deepEqual(rt.result.map((p) => idOf(p.id)), expText.slice(0, 3).map((e) => e.id));
    rt.result.forEach((p, k) => {
      assert.ok(Math.abs(p.score - expText[k].score) < 1e-5, `text score ${show(p)} vs ${expText[k].score}`);
      const src = pts.find((x) => x.id === expText[k].id);
      assert.deepEqual(vectorsOf(p.vectors), src.v, `vectors of query hit ${src.id}`);
    });

    // An unknown vector name is a user error.
    await expectGrpcError(
      pointsApi.query({ collectionName: name, query: nearest([1, 2]), using: 'audio', limit: 3n }),
      ConnectErrorCode.InvalidArgument,
      'query using an unknown vector name',
    );
    assert.equal((await collectionsApi.delete({ collectionName: name })).result, true);
  });
});

// Shared data set for the query / count / scroll / payload / delete tests.
const DIM = 4;
const vecFor = (i) => [((i * 7) % 11) - 5, ((i * 3) % 7) - 3, ((i * 5) % 13) / 4, 1 + (i % 4) / 2];
const groupFor = (i) => (i % 3 === 0 ? 'b' : 'a');
const DATA = Array.from({ length: 40 }, (_, k) => {
  const i = k + 1;
  return { id: BigInt(i), vector: vecFor(i), payload: { group: groupFor(i), n: BigInt(i), half: i / 2 + 0.25 } };
});

async function loadData(name) {
  await createCollection(name, singleConfig(DIM, Distance.Dot));
  await upsert(
    name,
    DATA.map((p) => ({ id: num(p.id), vectors: single(p.vector), payload: payloadOf(p.payload) })),
  );
}

describe('search', () => {
  const name = 'search_data';
  before(() => loadData(name));
  after(async () => {
    await collectionsApi.delete({ collectionName: name });
  });

  // group = "a" AND 10 <= n < 35 AND NOT n = 20
  const filter = {
    must: [matchKeyword('group', 'a'), range('n', { gte: 10, lt: 35 })],
    mustNot: [matchInteger('n', 20)],
  };
  const inFilter = (p) => p.payload.group === 'a' && p.payload.n >= 10n && p.payload.n < 35n && p.payload.n !== 20n;
  const q = [0.5, -1.25, 2, 0.75];
  const expected = DATA.filter(inFilter)
    .map((p) => ({ id: p.id, score: dot(p.vector, q), payload: p.payload, vector: p.vector }))
    .sort((x, y) => y.score - x.score);

  it('the data set has no tied scores (test precondition)', () => {
    for (let k = 1; k < expected.length; k++) assert.notEqual(expected[k - 1].score, expected[k].score);
    assert.ok(expected.length >= 12);
  });

  it('query with a filter returns the brute-force top-k in score order', async () => {
    const res = await pointsApi.query({
      collectionName: name,
      query: nearest(q),
      filter,
      limit: 5n,
      withPayload: withPayload(true),
      withVectors: withVectors(true),
    });
    const top = expected.slice(0, 5);
    assert.deepEqual(res.result.map((p) => idOf(p.id)), top.map((e) => e.id));
    res.result.forEach((p, k) => {
      // all inputs are small dyadic rationals: the dot products are exact in float32
      assert.equal(p.score, top[k].score, `score of ${top[k].id}`);
      assert.deepEqual(unpayload(p.payload), top[k].payload);
      assert.deepEqual(vectorsOf(p.vectors), top[k].vector);
    });
  });

  it('query defaults to no payload and no vectors; offset and score_threshold apply', async () => {
    const res = await pointsApi.query({ collectionName: name, query: nearest(q), filter, limit: 4n, offset: 3n });
    assert.deepEqual(res.result.map((p) => idOf(p.id)), expected.slice(3, 7).map((e) => e.id));
    for (const p of res.result) {
      assert.deepEqual(unpayload(p.payload), {}, `payload should be absent: ${show(p)}`);
      assert.equal(p.vectors, undefined, `vectors should be absent: ${show(p)}`);
    }

    const threshold = 4.5; // Dot: keeps score > threshold
    const thr = await pointsApi.query({
      collectionName: name,
      query: nearest(q),
      filter,
      limit: 100n,
      scoreThreshold: threshold,
    });
    assert.deepEqual(
      thr.result.map((p) => idOf(p.id)),
      expected.filter((e) => e.score > threshold).map((e) => e.id),
    );
  });

  it('query with payload include selector and a should/has_id filter', async () => {
    const ids = [3n, 7n, 12n, 25n, 38n];
    const res = await pointsApi.query({
      collectionName: name,
      query: nearest(q),
      filter: { should: [hasId(ids.map(num)), matchKeyword('group', 'nope')] },
      limit: 10n,
      withPayload: { selectorOptions: { case: 'include', value: { fields: ['group'] } } },
    });
    const exp = DATA.filter((p) => ids.includes(p.id))
      .map((p) => ({ id: p.id, score: dot(p.vector, q), group: p.payload.group }))
      .sort((x, y) => y.score - x.score || cmpId(x.id, y.id));
    assert.deepEqual(res.result.map((p) => idOf(p.id)), exp.map((e) => e.id));
    res.result.forEach((p, k) => assert.deepEqual(unpayload(p.payload), { group: exp[k].group }));
  });

  it('query by point id excludes that point and uses its vector', async () => {
    const anchor = DATA[9]; // id 10
    const res = await pointsApi.query({
      collectionName: name,
      query: { variant: { case: 'nearest', value: { variant: { case: 'id', value: num(anchor.id) } } } },
      filter,
      limit: 3n,
    });
    const exp = DATA.filter(inFilter)
      .filter((p) => p.id !== anchor.id)
      .map((p) => ({ id: p.id, score: dot(p.vector, anchor.vector) }))
      .sort((x, y) => y.score - x.score || cmpId(x.id, y.id));
    // Only assert ids where the expected order is not decided by a tie.
    const k = exp.findIndex((e, idx) => idx > 0 && idx < 3 && e.score === exp[idx - 1].score);
    assert.equal(k, -1, `precondition: no ties in the top 3 (${show(exp.slice(0, 4))})`);
    if (exp.length > 3) assert.notEqual(exp[2].score, exp[3].score, 'precondition: no tie at the cut');
    assert.deepEqual(res.result.map((p) => idOf(p.id)), exp.slice(0, 3).map((e) => e.id));
    res.result.forEach((p, idx) => assert.equal(p.score, exp[idx].score));
  });

  it('deprecated Search with a filter agrees with the brute force', async () => {
    const res = await pointsApi.search({
      collectionName: name,
      vector: q,
      filter,
      limit: 6n,
      withPayload: withPayload(true),
    });
    const top = expected.slice(0, 6);
    assert.deepEqual(res.result.map((p) => idOf(p.id)), top.map((e) => e.id));
    res.result.forEach((p, k) => {
      assert.equal(p.score, top[k].score);
      assert.deepEqual(unpayload(p.payload), top[k].payload);
    });
  });

  it('count: all points, and exactly with a filter', async () => {
    assert.equal(await countPoints(name), BigInt(DATA.length));
    assert.equal(await countPoints(name, filter), BigInt(DATA.filter(inFilter).length));
    assert.equal(
      await countPoints(name, { must: [matchKeyword('group', 'b')] }),
      BigInt(DATA.filter((p) => p.payload.group === 'b').length),
    );
    assert.equal(await countPoints(name, { must: [matchKeyword('group', 'zzz')] }), 0n);
  });

  it('scroll pages through filtered points in id order', async () => {
    const expIds = DATA.filter(inFilter).map((p) => p.id);
    const seen = [];
    let offset;
    let pages = 0;
    for (;;) {
      const res = await pointsApi.scroll({
        collectionName: name,
        filter,
        limit: 4,
        ...(offset ? { offset } : {}),
        withPayload: withPayload(true),
      });
      pages += 1;
      assert.ok(pages <= 10, 'scroll does not terminate');
      assert.ok(res.result.length <= 4);
      for (const p of res.result) {
        const id = idOf(p.id);
        seen.push(id);
        assert.deepEqual(unpayload(p.payload), DATA[Number(id) - 1].payload, `payload of ${id}`);
        assert.equal(p.vectors, undefined, 'scroll defaults to no vectors');
      }
      if (!res.nextPageOffset) break;
      // next_page_offset is the id that starts the next page
      const next = idOf(res.nextPageOffset);
      assert.equal(next, expIds[seen.length], `next_page_offset after ${show(seen)}`);
      offset = res.nextPageOffset;
    }
    assert.deepEqual(seen, expIds);
    // Qdrant looks one point ahead: a full last page has no next_page_offset.
    assert.equal(pages, Math.ceil(expIds.length / 4));

    // Without a filter, the first page starting at id 38 with vectors.
    const tail = await pointsApi.scroll({
      collectionName: name,
      offset: num(38n),
      limit: 10,
      withPayload: withPayload(false),
      withVectors: withVectors(true),
    });
    assert.deepEqual(tail.result.map((p) => idOf(p.id)), [38n, 39n, 40n]);
    tail.result.forEach((p) => assert.deepEqual(vectorsOf(p.vectors), vecFor(Number(idOf(p.id)))));
    assert.equal(tail.nextPageOffset, undefined);
  });
});

describe('payload and delete', () => {
  it('set payload (ids, filter, key), overwrite, delete payload keys, clear payload', async () => {
    const name = 'payload_ops';
    await loadData(name);
    const get = async (ids) => {
      const r = await pointsApi.get({ collectionName: name, ids: ids.map(num), withPayload: withPayload(true) });
      return new Map(r.result.map((p) => [idOf(p.id), unpayload(p.payload)]));
    };
    const base = (i) => DATA[i - 1].payload;

    // set by ids: merges into the existing payload
    const r1 = await pointsApi.setPayload({
      collectionName: name,
      wait: true,
      payload: payloadOf({ color: 'red', n: 1000n, meta: { a: 1n } }),
      pointsSelector: idsSelector([num(1n), num(2n)]),
    });
    assert.equal(r1.result.status, UpdateStatus.Completed);
    assert.equal(typeof r1.result.operationId, 'bigint');
    let got = await get([1n, 2n, 3n]);
    assert.deepEqual(got.get(1n), { ...base(1), color: 'red', n: 1000n, meta: { a: 1n } });
    assert.deepEqual(got.get(2n), { ...base(2), color: 'red', n: 1000n, meta: { a: 1n } });
    assert.deepEqual(got.get(3n), base(3));

    // set with a key: merged into the object at that path
    await pointsApi.setPayload({
      collectionName: name,
      wait: true,
      payload: payloadOf({ b: 'x' }),
      key: 'meta',
      pointsSelector: idsSelector([num(1n)]),
    });
    got = await get([1n]);
    assert.deepEqual(got.get(1n).meta, { a: 1n, b: 'x' });

    // set by filter
    await pointsApi.setPayload({
      collectionName: name,
      wait: true,
      payload: payloadOf({ flag: true }),
      pointsSelector: filterSelector({ must: [matchKeyword('group', 'b')] }),
    });
    const flagged = DATA.filter((p) => p.payload.group === 'b').length;
    assert.equal(await countPoints(name, { must: [{ conditionOneOf: { case: 'field', value: { key: 'flag', match: { matchValue: { case: 'boolean', value: true } } } } }] }), BigInt(flagged));

    // overwrite replaces the whole payload
    await pointsApi.overwritePayload({
      collectionName: name,
      wait: true,
      payload: payloadOf({ only: 'this' }),
      pointsSelector: idsSelector([num(2n)]),
    });
    got = await get([2n]);
    assert.deepEqual(got.get(2n), { only: 'this' });

    // delete keys by ids
    const r2 = await pointsApi.deletePayload({
      collectionName: name,
      wait: true,
      keys: ['color', 'half'],
      pointsSelector: idsSelector([num(1n)]),
    });
    assert.equal(r2.result.status, UpdateStatus.Completed);
    got = await get([1n]);
    assert.deepEqual(got.get(1n), { group: base(1).group, n: 1000n, meta: { a: 1n, b: 'x' } });

    // delete keys by filter
    await pointsApi.deletePayload({
      collectionName: name,
      wait: true,
      keys: ['flag'],
      pointsSelector: filterSelector({ must: [matchKeyword('group', 'b')] }),
    });
    got = await get([3n, 6n]);
    assert.deepEqual(got.get(3n), base(3));
    assert.deepEqual(got.get(6n), base(6));

    // clear payload
    await pointsApi.clearPayload({ collectionName: name, wait: true, points: idsSelector([num(4n)]) });
    got = await get([4n, 5n]);
    assert.deepEqual(got.get(4n), {});
    assert.deepEqual(got.get(5n), base(5));
    assert.equal(await countPoints(name), BigInt(DATA.length));
    assert.equal((await collectionsApi.delete({ collectionName: name })).result, true);
  });

  it('delete points by ids and by filter', async () => {
    const name = 'delete_ops';
    await loadData(name);
    const r = await pointsApi.delete({
      collectionName: name,
      wait: true,
      points: idsSelector([num(1n), num(2n), num(999n)]),
    });
    assert.equal(r.result.status, UpdateStatus.Completed);
    assert.equal(typeof r.result.operationId, 'bigint');
    assert.equal(await countPoints(name), BigInt(DATA.length - 2));
    const g = await pointsApi.get({ collectionName: name, ids: [num(1n), num(2n), num(3n)] });
    assert.deepEqual(g.result.map((p) => idOf(p.id)), [3n]);

    // delete all of group "b" with n >= 20
    const f = { must: [matchKeyword('group', 'b'), range('n', { gte: 20 })] };
    await pointsApi.delete({ collectionName: name, wait: true, points: filterSelector(f) });
    const remaining = DATA.filter((p) => p.id > 2n && !(p.payload.group === 'b' && p.payload.n >= 20n));
    assert.equal(await countPoints(name), BigInt(remaining.length));
    assert.equal(await countPoints(name, f), 0n);
    const sc = await pointsApi.scroll({ collectionName: name, limit: 100, withPayload: withPayload(false) });
    assert.deepEqual(sc.result.map((p) => idOf(p.id)), remaining.map((p) => p.id));

    // deleted points are no longer query candidates
    const q = await pointsApi.query({ collectionName: name, query: nearest([0, 0, 0, 1]), limit: 100n });
    assert.deepEqual(
      q.result.map((p) => idOf(p.id)).sort(cmpId),
      remaining.map((p) => p.id),
    );
    assert.equal((await collectionsApi.delete({ collectionName: name })).result, true);
  });
});

describe('field indexes and aliases', () => {
  it('field indexes: created with wait, reported in payload_schema with point counts, filters unchanged, deleted', async () => {
    const name = 'field_idx';
    await loadData(name);
    const filter = { must: [matchKeyword('group', 'b'), range('n', { gte: 5, lt: 30 })] };
    const expectCount = BigInt(DATA.filter((p) => p.payload.group === 'b' && p.payload.n >= 5n && p.payload.n < 30n).length);
    assert.equal(await countPoints(name, filter), expectCount);

    const r = await pointsApi.createFieldIndex({
      collectionName: name,
      wait: true,
      fieldName: 'group',
      fieldType: FieldType.FieldTypeKeyword,
    });
    assert.equal(r.result.status, UpdateStatus.Completed);
    assert.equal(typeof r.result.operationId, 'bigint');
    await pointsApi.createFieldIndex({ collectionName: name, wait: true, fieldName: 'n', fieldType: FieldType.FieldTypeInteger });

    let info = (await collectionsApi.get({ collectionName: name })).result;
    assert.deepEqual(Object.keys(info.payloadSchema).sort(), ['group', 'n']);
    assert.equal(info.payloadSchema.group.dataType, PayloadSchemaType.Keyword);
    assert.equal(info.payloadSchema.n.dataType, PayloadSchemaType.Integer);
    // every point has a string `group` and an integer `n`
    assert.equal(info.payloadSchema.group.points, BigInt(DATA.length));
    assert.equal(info.payloadSchema.n.points, BigInt(DATA.length));

    // the same filter gives the same answer with the indexes declared
    assert.equal(await countPoints(name, filter), expectCount);
    const q = [1, 0.5, -0.25, 2];
    const res = await pointsApi.query({ collectionName: name, query: nearest(q), filter, limit: 3n });
    const want = DATA.filter((p) => p.payload.group === 'b' && p.payload.n >= 5n && p.payload.n < 30n)
      .map((p) => ({ id: p.id, score: dot(p.vector, q) }))
      .sort((x, y) => y.score - x.score || cmpId(x.id, y.id))
      .slice(0, 3);
    assert.deepEqual(res.result.map((p) => idOf(p.id)), want.map((w) => w.id));

    const d = await pointsApi.deleteFieldIndex({ collectionName: name, wait: true, fieldName: 'group' });
    assert.equal(d.result.status, UpdateStatus.Completed);
    info = (await collectionsApi.get({ collectionName: name })).result;
    assert.deepEqual(Object.keys(info.payloadSchema), ['n']);
    await collectionsApi.delete({ collectionName: name });
  });

  it('aliases: create, list, read and write through, rename, delete; errors', async () => {
    const name = 'alias_target';
    await loadData(name);
    const upd = (actions) => collectionsApi.updateAliases({ actions });
    const create = (aliasName, collectionName) => ({ action: { case: 'createAlias', value: { aliasName, collectionName } } });

    assert.equal((await upd([create('al_one', name), create('al_two', name)])).result, true);
    const all = (await collectionsApi.listAliases({})).aliases.map((a) => [a.aliasName, a.collectionName]);
    assert.deepEqual(all.filter(([a]) => a.startsWith('al_')).sort(), [['al_one', name], ['al_two', name]]);
    const mine = (await collectionsApi.listCollectionAliases({ collectionName: name })).aliases.map((a) => a.aliasName);
    assert.deepEqual(mine.sort(), ['al_one', 'al_two']);

    // reads and writes through an alias reach the collection
    assert.equal(await countPoints('al_one', undefined), BigInt(DATA.length));
    await upsert('al_two', [{ id: num(1000n), vectors: single([1, 1, 1, 1]), payload: payloadOf({ via: 'alias' }) }]);
    const got = await pointsApi.get({ collectionName: name, ids: [num(1000n)], withPayload: withPayload(true) });
    assert.deepEqual(unpayload(got.result[0].payload), { via: 'alias' });

    // rename and delete
    await upd([{ action: { case: 'renameAlias', value: { oldAliasName: 'al_one', newAliasName: 'al_three' } } }]);
    await upd([{ action: { case: 'deleteAlias', value: { aliasName: 'al_two' } } }]);
    const after = (await collectionsApi.listCollectionAliases({ collectionName: name })).aliases.map((a) => a.aliasName);
    assert.deepEqual(after, ['al_three']);
    await expectGrpcError(pointsApi.count({ collectionName: 'al_one', exact: true }), ConnectErrorCode.NotFound, 'count via a renamed alias');

    // errors: an alias for a missing collection, an alias named like a collection; all-or-nothing
    await expectGrpcError(
      upd([create('al_four', name), create('al_five', 'no_such_collection')]),
      ConnectErrorCode.NotFound,
      'alias for a missing collection',
      "Collection `no_such_collection` doesn't exist!",
    );
    const none = (await collectionsApi.listAliases({})).aliases.map((a) => a.aliasName);
    assert.ok(!none.includes('al_four'), 'a failed UpdateAliases must change nothing');
    await expectGrpcError(upd([create(name, name)]), ConnectErrorCode.AlreadyExists, 'alias named like a collection');

    // deleting the collection removes its aliases
    await collectionsApi.delete({ collectionName: name });
    const left = (await collectionsApi.listAliases({})).aliases.map((a) => a.aliasName);
    assert.ok(!left.includes('al_three'), `aliases of a deleted collection must go: ${left}`);
  });
});

describe('errors', () => {
  it('an unknown collection is NOT_FOUND for every RPC', async () => {
    const collectionName = 'no_such_collection';
    const NF = ConnectErrorCode.NotFound;
    assert.equal(NF, 5);
    const msg = "Collection `no_such_collection` doesn't exist!";
    await expectGrpcError(collectionsApi.get({ collectionName }), NF, 'Collections/Get', msg);
    await expectGrpcError(
      pointsApi.upsert({ collectionName, wait: true, points: [{ id: num(1n), vectors: single([1, 2, 3, 4]) }] }),
      NF,
      'Points/Upsert',
      msg,
    );
    await expectGrpcError(pointsApi.get({ collectionName, ids: [num(1n)] }), NF, 'Points/Get', msg);
    await expectGrpcError(
      pointsApi.query({ collectionName, query: nearest([1, 2, 3, 4]), limit: 3n }),
      NF,
      'Points/Query',
      msg,
    );
    await expectGrpcError(pointsApi.count({ collectionName, exact: true }), NF, 'Points/Count', msg);
    await expectGrpcError(pointsApi.scroll({ collectionName, limit: 3 }), NF, 'Points/Scroll', msg);
    await expectGrpcError(
      pointsApi.setPayload({
        collectionName,
        wait: true,
        payload: payloadOf({ a: 1n }),
        pointsSelector: idsSelector([num(1n)]),
      }),
      NF,
      'Points/SetPayload',
      msg,
    );
    await expectGrpcError(
      pointsApi.delete({ collectionName, wait: true, points: idsSelector([num(1n)]) }),
      NF,
      'Points/Delete',
      msg,
    );
  });

  it('a wrong vector dimension is INVALID_ARGUMENT and nothing is written', async () => {
    const name = 'err_dim';
    await createCollection(name, singleConfig(4, Distance.Dot));
    await upsert(name, [{ id: num(1n), vectors: single([1, 1, 1, 1]) }]);
    const IA = ConnectErrorCode.InvalidArgument;
    assert.equal(IA, 3);

    await expectGrpcError(
      pointsApi.upsert({
        collectionName: name,
        wait: true,
        points: [
          { id: num(2n), vectors: single([1, 2, 3, 4]) },
          { id: num(3n), vectors: single([1, 2, 3]) },
        ],
      }),
      IA,
      'upsert with a 3-dim vector into a 4-dim collection (wait=true)',
      'expected dim: 4, got 3',
    );
    await expectGrpcError(
      pointsApi.upsert({
        collectionName: name,
        wait: false,
        points: [{ id: num(4n), vectors: single([1, 2, 3, 4, 5]) }],
      }),
      IA,
      'upsert with a 5-dim vector into a 4-dim collection (wait=false)',
      'expected dim: 4, got 5',
    );
    assert.equal(await countPoints(name), 1n, 'a rejected upsert must not write any point');

    await expectGrpcError(
      pointsApi.query({ collectionName: name, query: nearest([1, 2]), limit: 3n }),
      IA,
      'query with a 2-dim vector against a 4-dim collection',
      'expected dim: 4, got 2',
    );
    assert.equal((await collectionsApi.delete({ collectionName: name })).result, true);
  });
});
