// helpers.js - the shared node:test server helpers (tests/node-common/server.js).
export * from '../node-common/server.js';
