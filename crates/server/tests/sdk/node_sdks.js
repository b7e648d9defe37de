// Segment's and RudderStack's Node.js SDKs, as a shop's backend would use them: every call type,
// flushed through their own batching (and gzip, for RudderStack). Run by tests/server_sdks.rs.
const { Analytics } = require('@segment/analytics-node');
const Rudder = require('@rudderstack/rudder-sdk-node');
(async () => {
  const seg = new Analytics({ writeKey: process.env.WK, host: process.env.TP, flushAt: 3, maxRetries: 3 });
  seg.identify({ userId: 'node-seg', traits: { email: 'seg@example.cz' } });
  seg.track({ userId: 'node-seg', event: 'Node Ordered', properties: { total: 990 } });
  seg.page({ userId: 'node-seg', name: 'Home' });
  seg.group({ userId: 'node-seg', groupId: 'acme' });
  seg.screen({ userId: 'node-seg', name: 'Basket' });
  seg.alias({ userId: 'node-seg-2', previousId: 'node-seg' });
  await seg.closeAndFlush();
  const rs = new Rudder(process.env.WK, { dataPlaneUrl: process.env.TP, flushAt: 3, logLevel: 'error' });
  rs.identify({ userId: 'node-rs', traits: { email: 'rs@example.pl' } });
  rs.track({ userId: 'node-rs', event: 'Node Returned', properties: { n: 1 } });
  rs.page({ userId: 'node-rs', name: 'Home' });
  rs.group({ userId: 'node-rs', groupId: 'acme-pl' });
  rs.screen({ userId: 'node-rs', name: 'Basket' });
  rs.alias({ userId: 'node-rs-2', previousId: 'node-rs' });
  await new Promise((resolve, reject) => rs.flush((err) => (err ? reject(err) : resolve())));
  console.log('flushed');
})().catch((e) => { console.error(e); process.exit(1); });
