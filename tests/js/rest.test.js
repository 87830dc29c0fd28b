// rest.test.js - Quiver through the official Qdrant JS REST client
// (@qdrant/js-client-rest 1.19.0), plus raw fetch where the client cannot
// express the check (64-bit IDs as JSON text, exact response bytes).
//
// Run: cd tests/js && QUIVER_BIN=/path/to/quiver node --test

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { QdrantClient } from '@qdrant/js-client-rest';

import { rawRequest, startServer } from './helpers.js';

let server;
let client;

before(async () => {
  server = await startServer();
  client = new QdrantClient({ url: server.url, checkCompatibility: false, timeout: 30_000 });
});

after(async () => {
  if (server) await server.stop();
});

const U64_MAX = '18446744073709551615';

// ---------------------------------------------------------------- helpers

/** Awaits `promise`, expecting the client to throw for an HTTP error status; returns the error. */
async function expectHttpError(promise, status) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected the request to fail with HTTP ${status}, but it succeeded`);
  assert.equal(err.status, status, `expected HTTP ${status}, got ${err.status}: ${err.message}`);
  return err;
}

/** The server's error message from a client error ({"status":{"error":"..."}}). */
function serverMessage(err) {
  const msg = err?.data?.status?.error;
  assert.equal(typeof msg, 'string', `error body should be {"status":{"error":...}}, got ${JSON.stringify(err?.data)}`);
  return msg;
}

function byId(points) {
  return new Map(points.map((p) => [p.id, p]));
}

/** Matches `"id":<text>` in raw JSON, where <text> is not followed by more number characters. */
function rawIdRegExp(text) {
  return new RegExp(`"id"\\s*:\\s*${text}(?![0-9.eE])`);
}

function dot(a, b) {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

async function createFresh(name, params) {
  await client.deleteCollection(name);
  assert.equal(await client.createCollection(name, params), true);
}

// ------------------------------------------------------------------ tests

test('GET / identifies the server as Qdrant 1.19 (versionInfo)', async () => {
  const info = await client.versionInfo();
  assert.equal(info.title, 'qdrant - vector search engine');
  assert.match(info.version, /^1\.19\.\d+$/);
  assert.match(info.commit, /^[0-9a-f]{40}$/);
});

test('create collection and get it back', async () => {
  const name = 'js_create';
  await client.deleteCollection(name);
  assert.equal(await client.createCollection(name, { vectors: { size: 4, distance: 'Cosine' } }), true);

  const info = await client.getCollection(name);
  assert.equal(info.status, 'green');
  assert.equal(info.points_count, 0);
  assert.deepStrictEqual(info.config.params.vectors, { size: 4, distance: 'Cosine' });
  assert.ok(!('warnings' in info), `no "warnings" key expected when there are none: ${JSON.stringify(info)}`);

  assert.deepStrictEqual(await client.collectionExists(name), { exists: true });
  const { collections } = await client.getCollections();
  assert.ok(
    collections.some((c) => c.name === name),
    `GET /collections should list ${name}: ${JSON.stringify(collections)}`,
  );

  // Named vectors come back under their names, with the parameters sent.
  const named = 'js_create_named';
  await client.deleteCollection(named);
  const vectors = { image: { size: 3, distance: 'Euclid' }, text: { size: 2, distance: 'Dot' } };
  assert.equal(await client.createCollection(named, { vectors }), true);
  const namedInfo = await client.getCollection(named);
  assert.deepStrictEqual(namedInfo.config.params.vectors, vectors);

  // Creating it again: 409, "already exists" (frameworks string-match it).
  const err = await expectHttpError(
    client.createCollection(name, { vectors: { size: 4, distance: 'Cosine' } }),
    409,
  );
  assert.match(serverMessage(err), /already exists/);
  assert.ok(serverMessage(err).includes(name), `409 message should name the collection: ${serverMessage(err)}`);
});

test('upsert with int IDs, UUID IDs and IDs at and above 2^53; read back equals what was sent', async () => {
  const name = 'js_ids';
  await createFresh(name, { vectors: { size: 4, distance: 'Dot' } });

  const numericIds = [
    0,
    1,
    42,
    2 ** 31,
    2 ** 32 + 1,
    Number.MAX_SAFE_INTEGER, // 2^53 - 1
    2 ** 53,
    2 ** 53 + 2,
    2 ** 60, // JSON.stringify sends "1152921504606847000"
    2 ** 64 - 2048, // largest double below 2^64; sent as "18446744073709550000"
  ];
  const uuid = '550e8400-e29b-41d4-a716-446655440000';
  const ids = [...numericIds, uuid];
  const points = ids.map((id, i) => ({
    id,
    vector: [i + 1, 0.5, -0.25, 0.125],
    payload: { n: i, label: `p${i}` },
  }));

  const res = await client.upsert(name, { wait: true, points });
  assert.equal(res.status, 'completed');
  assert.ok(Number.isInteger(res.operation_id), `operation_id should be an integer: ${JSON.stringify(res)}`);

  assert.equal((await client.count(name)).count, ids.length);

  // retrieve: every point back, with the same id (===), payload and vector.
  const got = await client.retrieve(name, { ids, with_payload: true, with_vector: true });
  assert.equal(got.length, ids.length, `retrieve returned ${JSON.stringify(got.map((p) => p.id))}`);
  const gotById = byId(got);
  for (const p of points) {
    const q = gotById.get(p.id);
    assert.ok(q, `point ${JSON.stringify(p.id)} missing from retrieve: ${JSON.stringify([...gotById.keys()])}`);
    assert.deepStrictEqual(q.payload, p.payload, `payload of ${p.id}`);
    assert.deepStrictEqual(q.vector, p.vector, `vector of ${p.id}`);
  }

  // Each ID on its own, too (no mix-up between neighbouring large IDs).
  for (const id of numericIds) {
    const one = await client.retrieve(name, { ids: [id] });
    assert.deepStrictEqual(
      one.map((p) => p.id),
      [id],
      `retrieve([${JSON.stringify(id)}]) returned ${JSON.stringify(one)}`,
    );
  }

  // scroll: numeric IDs ascending, then UUIDs.
  const scrolled = await client.scroll(name, { limit: 100 });
  assert.deepStrictEqual(
    scrolled.points.map((p) => p.id),
    [...numericIds].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1)).concat([uuid]),
  );
  assert.equal(scrolled.next_page_offset ?? null, null);

  // The IDs the client sent are stored as the exact integers of the JSON text
  // it produced, and come back as that same text (never through a double).
  const raw = await rawRequest(server.url, 'POST', `/collections/${name}/points`, {
    ids: numericIds,
    with_payload: false,
  });
  assert.equal(raw.status, 200, raw.text);
  for (const id of numericIds) {
    const text = JSON.stringify(id);
    assert.match(raw.text, rawIdRegExp(text), `raw body should contain "id":${text}: ${raw.text}`);
  }
});

test('UUID IDs: other spellings are accepted and returned lowercase hyphenated', async () => {
  const name = 'js_uuid';
  await createFresh(name, { vectors: { size: 2, distance: 'Dot' } });
  const canonical = 'f47ac10b-58cc-4372-a567-0e02b2c3d479';
  await client.upsert(name, {
    wait: true,
    points: [{ id: canonical.toUpperCase(), vector: [1, 2], payload: { k: 'upper' } }],
  });
  const got = await client.retrieve(name, { ids: [canonical] });
  assert.deepStrictEqual(
    got.map((p) => [p.id, p.payload]),
    [[canonical, { k: 'upper' }]],
  );
  // Retrieving by the uppercase spelling finds the same point.
  const again = await client.retrieve(name, { ids: [canonical.toUpperCase()] });
  assert.deepStrictEqual(
    again.map((p) => p.id),
    [canonical],
  );
  // Upserting the canonical spelling overwrites, it does not add a point.
  await client.upsert(name, { wait: true, points: [{ id: canonical, vector: [3, 4], payload: { k: 'lower' } }] });
  assert.equal((await client.count(name)).count, 1);
  const last = await client.retrieve(name, { ids: [canonical], with_vector: true });
  assert.deepStrictEqual(
    last.map((p) => [p.id, p.payload, p.vector]),
    [[canonical, { k: 'lower' }, [3, 4]]],
  );
});

test('raw JSON: ID 18446744073709551615 comes back as the exact same text', async () => {
  const name = 'js_u64';
  await createFresh(name, { vectors: { size: 4, distance: 'Dot' } });
  const below = '18446744073709551614'; // same double as U64_MAX: must stay a distinct point

  let r = await rawRequest(
    server.url,
    'PUT',
    `/collections/${name}/points?wait=true`,
    `{"points":[{"id":${U64_MAX},"vector":[1,2,3,4],"payload":{"which":"max"}},` +
      `{"id":${below},"vector":[4,3,2,1],"payload":{"which":"max-1"}}]}`,
  );
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json?.result?.status, 'completed', r.text);
  assert.equal((await client.count(name)).count, 2, 'IDs 2^64-1 and 2^64-2 are two different points');

  // Retrieve by ID (POST body).
  r = await rawRequest(server.url, 'POST', `/collections/${name}/points`, `{"ids":[${U64_MAX}],"with_payload":true}`);
  assert.equal(r.status, 200, r.text);
  assert.match(r.text, rawIdRegExp(U64_MAX), `POST /points body: ${r.text}`);
  assert.doesNotMatch(r.text, rawIdRegExp(below), `only the requested point: ${r.text}`);
  assert.equal(r.json.result.length, 1, r.text);
  assert.deepStrictEqual(r.json.result[0].payload, { which: 'max' });

  // Retrieve by ID in the path.
  r = await rawRequest(server.url, 'GET', `/collections/${name}/points/${U64_MAX}`);
  assert.equal(r.status, 200, r.text);
  assert.match(r.text, rawIdRegExp(U64_MAX), `GET /points/${U64_MAX} body: ${r.text}`);
  assert.deepStrictEqual(r.json.result.payload, { which: 'max' });

  r = await rawRequest(server.url, 'GET', `/collections/${name}/points/${below}`);
  assert.equal(r.status, 200, r.text);
  assert.match(r.text, rawIdRegExp(below), `GET /points/${below} body: ${r.text}`);
  assert.deepStrictEqual(r.json.result.payload, { which: 'max-1' });

  // Scroll lists both, in order, each with its own exact text.
  r = await rawRequest(server.url, 'POST', `/collections/${name}/points/scroll`, '{"limit":10,"with_payload":false}');
  assert.equal(r.status, 200, r.text);
  const idx = r.text.search(rawIdRegExp(U64_MAX));
  const idxBelow = r.text.search(rawIdRegExp(below));
  assert.ok(idxBelow >= 0 && idx > idxBelow, `scroll should list ${below} then ${U64_MAX}: ${r.text}`);

  // Scroll from offset 2^64-1 (inclusive) starts at that point.
  r = await rawRequest(
    server.url,
    'POST',
    `/collections/${name}/points/scroll`,
    `{"offset":${U64_MAX},"limit":10,"with_payload":true}`,
  );
  assert.equal(r.status, 200, r.text);
  assert.match(r.text, rawIdRegExp(U64_MAX), r.text);
  assert.equal(r.json.result.points.length, 1, r.text);
  assert.deepStrictEqual(r.json.result.points[0].payload, { which: 'max' });

  // Query results carry the exact ID text too.
  r = await rawRequest(server.url, 'POST', `/collections/${name}/points/query`, '{"query":[1,0,0,0],"limit":1}');
  assert.equal(r.status, 200, r.text);
  assert.match(r.text, rawIdRegExp(below), `the best match for [1,0,0,0] is ${below}: ${r.text}`);

  // has_id filter with the exact ID.
  r = await rawRequest(
    server.url,
    'POST',
    `/collections/${name}/points/count`,
    `{"filter":{"must":[{"has_id":[${U64_MAX}]}]},"exact":true}`,
  );
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.result.count, 1, r.text);

  // 2^64 is not a valid ID: 400, and nothing is written.
  r = await rawRequest(
    server.url,
    'PUT',
    `/collections/${name}/points?wait=true`,
    '{"points":[{"id":18446744073709551616,"vector":[1,2,3,4]}]}',
  );
  assert.equal(r.status, 400, `ID 2^64 should be rejected with 400: ${r.status} ${r.text}`);
  assert.equal(r.json?.status?.error !== undefined, true, `error envelope expected: ${r.text}`);
  assert.equal((await client.count(name)).count, 2);

  // Delete by the exact ID removes that point only.
  r = await rawRequest(server.url, 'POST', `/collections/${name}/points/delete?wait=true`, `{"points":[${U64_MAX}]}`);
  assert.equal(r.status, 200, r.text);
  r = await rawRequest(server.url, 'POST', `/collections/${name}/points/scroll`, '{"limit":10}');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.result.points.length, 1, r.text);
  assert.match(r.text, rawIdRegExp(below), r.text);
});

test('exact float read-back of [0.19, 0.81, 0.75, 0.11] in a Dot collection', async () => {
  const name = 'js_dot';
  await createFresh(name, { vectors: { size: 4, distance: 'Dot' } });
  const v1 = [0.19, 0.81, 0.75, 0.11];
  const v2 = [-0.5, 1e-7, 123.456, 65504];
  await client.upsert(name, {
    wait: true,
    points: [
      { id: 1, vector: v1, payload: { name: 'a' } },
      { id: 2, vector: v2, payload: { name: 'b' } },
    ],
  });

  // retrieve
  const got = await client.retrieve(name, { ids: [1, 2], with_vector: true });
  const m = byId(got);
  assert.deepStrictEqual(m.get(1)?.vector, v1);
  assert.deepStrictEqual(m.get(2)?.vector, v2);
  assert.ok(m.get(1).vector.every((x, i) => x === v1[i]));

  // scroll
  const sc = await client.scroll(name, { with_vector: true, limit: 10 });
  assert.deepStrictEqual(
    sc.points.map((p) => [p.id, p.vector]),
    [
      [1, v1],
      [2, v2],
    ],
  );

  // query: vectors come back exactly; scores are float32 products printed shortest.
  const q = await client.query(name, { query: [1, 0, 0, 0], with_vector: true, limit: 10 });
  assert.deepStrictEqual(
    q.points.map((p) => [p.id, p.score, p.vector]),
    [
      [1, 0.19, v1],
      [2, -0.5, v2],
    ],
  );

  // The raw body holds the shortest decimals.
  const raw = await rawRequest(server.url, 'POST', `/collections/${name}/points`, {
    ids: [1],
    with_vector: true,
  });
  assert.equal(raw.status, 200, raw.text);
  assert.match(raw.text, /"vector"\s*:\s*\[\s*0\.19\s*,\s*0\.81\s*,\s*0\.75\s*,\s*0\.11\s*\]/, raw.text);
});

test('filtered query: results match expectations computed here', async () => {
  const name = 'js_filter';
  await createFresh(name, { vectors: { size: 4, distance: 'Dot' } });

  // Vectors are the decimal digits of (id * 37) % 10000, so the dot product
  // with [1, 10, 100, 1000] is that number: exact in float32 and distinct per
  // point, so the expected order has no ties.
  const cities = ['Berlin', 'London', 'Paris'];
  const points = [];
  for (let id = 1; id <= 60; id++) {
    const k = (id * 37) % 10000;
    points.push({
      id,
      vector: [k % 10, Math.floor(k / 10) % 10, Math.floor(k / 100) % 10, Math.floor(k / 1000) % 10],
      payload: {
        city: cities[id % 3],
        price: (id * 7) % 100,
        in_stock: id % 5 !== 0,
        tags: id % 4 === 0 ? ['sale', 'new'] : ['new'],
      },
    });
  }
  await client.upsert(name, { wait: true, points });
  assert.equal((await client.count(name)).count, points.length);

  const qv = [1, 10, 100, 1000];
  const expect = (pred, limit) =>
    points
      .filter(pred)
      .map((p) => ({ id: p.id, score: dot(p.vector, qv), payload: p.payload }))
      .sort((a, b) => b.score - a.score)
      .slice(0, limit);

  // 1. must: match value + range
  const f1 = {
    must: [
      { key: 'city', match: { value: 'Berlin' } },
      { key: 'price', range: { gte: 20, lt: 80 } },
    ],
  };
  const pred1 = (p) => p.payload.city === 'Berlin' && p.payload.price >= 20 && p.payload.price < 80;
  const r1 = await client.query(name, { query: qv, filter: f1, limit: 5, with_payload: true });
  const e1 = expect(pred1, 5);
  assert.equal(e1.length, 5, 'fixture: the filter should match at least 5 points');
  assert.deepStrictEqual(
    r1.points.map((p) => ({ id: p.id, score: p.score, payload: p.payload })),
    e1,
  );
  assert.equal((await client.count(name, { filter: f1 })).count, points.filter(pred1).length);

  // 2. should + must_not with match.any; limit above the number of matches
  const f2 = {
    should: [
      { key: 'city', match: { value: 'Paris' } },
      { key: 'city', match: { value: 'London' } },
    ],
    must_not: [{ key: 'tags', match: { any: ['sale'] } }],
  };
  const pred2 = (p) => ['Paris', 'London'].includes(p.payload.city) && !p.payload.tags.includes('sale');
  const r2 = await client.query(name, { query: qv, filter: f2, limit: 100 });
  const e2 = expect(pred2, 100);
  assert.deepStrictEqual(
    r2.points.map((p) => [p.id, p.score]),
    e2.map((p) => [p.id, p.score]),
  );
  assert.ok(
    r2.points.every((p) => p.payload === undefined || p.payload === null),
    'query returns no payload unless asked',
  );

  // 3. match.any + boolean + has_id exclusion
  const f3 = {
    must: [
      { key: 'city', match: { any: ['Berlin', 'Paris'] } },
      { key: 'in_stock', match: { value: true } },
    ],
    must_not: [{ has_id: [3, 6, 9, 12] }],
  };
  const pred3 = (p) =>
    ['Berlin', 'Paris'].includes(p.payload.city) && p.payload.in_stock && ![3, 6, 9, 12].includes(p.id);
  const r3 = await client.query(name, { query: qv, filter: f3, limit: 7 });
  assert.deepStrictEqual(
    r3.points.map((p) => [p.id, p.score]),
    expect(pred3, 7).map((p) => [p.id, p.score]),
  );

  // 4. a filter that matches nothing
  const r4 = await client.query(name, { query: qv, filter: { must: [{ key: 'city', match: { value: 'Tokyo' } }] } });
  assert.deepStrictEqual(r4.points, []);

  // 5. no query, filter only: matching points in ID order, default limit 10
  const r5 = await client.query(name, { filter: f1 });
  assert.deepStrictEqual(
    r5.points.map((p) => p.id),
    points
      .filter(pred1)
      .map((p) => p.id)
      .slice(0, 10),
  );
});

test('delete points by ids and by filter, then count', async () => {
  const name = 'js_delete';
  await createFresh(name, { vectors: { size: 2, distance: 'Dot' } });
  let alive = [];
  const points = [];
  for (let id = 1; id <= 30; id++) {
    points.push({ id, vector: [id, 1], payload: { group: id % 3, n: id } });
    alive.push(id);
  }
  await client.upsert(name, { wait: true, points });
  assert.equal((await client.count(name)).count, 30);

  // By IDs (one of them does not exist).
  let res = await client.delete(name, { wait: true, points: [1, 2, 3, 999] });
  assert.equal(res.status, 'completed');
  alive = alive.filter((id) => ![1, 2, 3].includes(id));
  assert.equal((await client.count(name)).count, alive.length);
  assert.deepStrictEqual(
    (await client.retrieve(name, { ids: [1, 2, 3, 4] })).map((p) => p.id),
    [4],
  );

  // By filter.
  res = await client.delete(name, { wait: true, filter: { must: [{ key: 'group', match: { value: 0 } }] } });
  assert.equal(res.status, 'completed');
  alive = alive.filter((id) => id % 3 !== 0);
  assert.equal((await client.count(name)).count, alive.length);
  assert.equal((await client.count(name, { filter: { must: [{ key: 'group', match: { value: 0 } }] } })).count, 0);

  // By a range filter.
  res = await client.delete(name, { wait: true, filter: { must: [{ key: 'n', range: { gt: 25 } }] } });
  assert.equal(res.status, 'completed');
  alive = alive.filter((id) => id <= 25);
  assert.equal((await client.count(name)).count, alive.length);

  const sc = await client.scroll(name, { limit: 100, with_payload: false });
  assert.deepStrictEqual(
    sc.points.map((p) => p.id),
    alive,
  );
  const info = await client.getCollection(name);
  assert.equal(info.points_count, alive.length);
});

test('collection delete', async () => {
  const name = 'js_drop';
  await createFresh(name, { vectors: { size: 2, distance: 'Euclid' } });
  await client.upsert(name, { wait: true, points: [{ id: 7, vector: [1, 2], payload: { x: 1 } }] });

  assert.equal(await client.deleteCollection(name), true);
  assert.deepStrictEqual(await client.collectionExists(name), { exists: false });
  const { collections } = await client.getCollections();
  assert.ok(!collections.some((c) => c.name === name), `${name} still listed: ${JSON.stringify(collections)}`);
  await expectHttpError(client.getCollection(name), 404);

  // Deleting a missing collection: 200 with result false.
  assert.equal(await client.deleteCollection(name), false);

  // Re-creating it gives an empty collection.
  assert.equal(await client.createCollection(name, { vectors: { size: 2, distance: 'Euclid' } }), true);
  assert.equal((await client.count(name)).count, 0);
  assert.deepStrictEqual(await client.retrieve(name, { ids: [7] }), []);
  assert.equal(await client.deleteCollection(name), true);
});

test('missing collection: 404 naming the collection', async () => {
  const name = 'js_no_such_collection';
  await client.deleteCollection(name);

  const calls = {
    getCollection: () => client.getCollection(name),
    upsert: () => client.upsert(name, { wait: true, points: [{ id: 1, vector: [1, 2] }] }),
    retrieve: () => client.retrieve(name, { ids: [1] }),
    query: () => client.query(name, { query: [1, 2] }),
    count: () => client.count(name),
    delete: () => client.delete(name, { wait: true, points: [1] }),
  };
  for (const [what, call] of Object.entries(calls)) {
    const err = await expectHttpError(call(), 404);
    const msg = serverMessage(err);
    assert.ok(msg.includes(name), `${what}: the 404 message should mention ${name}: ${JSON.stringify(msg)}`);
    assert.ok(msg.startsWith('Not found: '), `${what}: message should start with "Not found: ": ${JSON.stringify(msg)}`);
  }
  assert.deepStrictEqual(await client.collectionExists(name), { exists: false });
});
