'use strict';
// Installed from the packed tarballs into a project with no Rust toolchain and npm's install
// scripts off (scripts/test.sh): the prebuilt @postato/<platform> package must be all it needs.
const { Client, idempotencyKey } = require('postato');
const { Simulator } = require('postato-testing');

(async () => {
  const sim = await Simulator.start();
  try {
    const client = new Client({ apiKey: sim.apiKey, workspaceId: 'ws_npm', baseUrl: sim.baseUrl });
    const post = await client.publish({ businessKey: 'npm-cjs-1', platform: 'x', accountId: 'a', content: 'hi' });
    if (post.status !== 'published' || sim.publishes('npm-cjs-1') !== 1) throw new Error(`not published: ${post}`);
    if (idempotencyKey('draft-123') !== 'f62695618dbb558b0d9768a8003ec862') throw new Error('wrong key');
    console.log(`CommonJS: published ${post.id}`);
  } finally {
    await sim.stop();
  }
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
