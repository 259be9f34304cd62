// MQTT.js over WebSocket against mqttproto-broker (test_mqttjs.py): connect
// with MQTT 5, subscribe at QoS 1, publish to the same topic at QoS 1 and
// exit 0 once the message came back; exit 1 on an error or after 15 s.
'use strict';
const mqtt = require('mqtt');

const url = process.argv[2];
const timer = setTimeout(() => {
  console.error('timed out');
  process.exit(1);
}, 15000);
const client = mqtt.connect(url, {
  protocolVersion: 5,
  clientId: 'mqttjs-client',
  reconnectPeriod: 0,
  connectTimeout: 10000,
});
let done = false;
client.on('error', (err) => {
  if (done) {
    return; // the broker may reset the socket after our DISCONNECT
  }
  console.error('error: ' + err.message);
  process.exit(1);
});
client.on('connect', () => {
  client.subscribe('mqttjs/t', { qos: 1 }, (err, granted) => {
    if (err || granted[0].qos !== 1) {
      console.error('subscribe failed: ' + (err ? err.message : JSON.stringify(granted)));
      process.exit(1);
    }
    client.publish('mqttjs/t', 'hello from MQTT.js', { qos: 1 }, (perr) => {
      if (perr) {
        console.error('publish failed: ' + perr.message);
        process.exit(1);
      }
    });
  });
});
client.on('message', (topic, payload, packet) => {
  console.log('received ' + topic + ' ' + payload.toString() + ' qos ' + packet.qos);
  clearTimeout(timer);
  done = true;
  client.end(false, {}, () => process.exit(0));
});
