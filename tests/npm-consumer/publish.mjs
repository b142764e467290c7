// The same through the ESM entry points, the test kit reached as postato/testing.
import { Client } from 'postato';
import { Simulator } from 'postato/testing';

const sim = await Simulator.start();
try {
  const client = new Client({ apiKey: sim.apiKey, workspaceId: 'ws_npm', baseUrl: sim.baseUrl });
  const post = await client.publish({ businessKey: 'npm-esm-1', platform: 'x', accountId: 'a', content: 'hi' });
  if (post.status !== 'published' || sim.publishes('npm-esm-1') !== 1) throw new Error(`not published: ${post}`);
  console.log(`ESM: published ${post.id}`);
} finally {
  await sim.stop();
}
