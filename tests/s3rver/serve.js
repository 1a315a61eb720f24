// s3rver on loopback for the test suite: a free port (printed on the first line of stdout),
// the suite's credentials, and one line per request ("METHOD /path?query") appended to a
// log, so tests can count what reached the server.
'use strict';

const fs = require('fs');
const S3rver = require('s3rver');
const { DUMMY_ACCOUNT } = require('s3rver/lib/models/account');

const [directory, requestLog, accessKey, secretKey] = process.argv.slice(2);
DUMMY_ACCOUNT.createKeyPair(accessKey, secretKey);

const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  directory,
  silent: true,
  vhostBuckets: false,
});

server.run().then(({ port }) => {
  server.httpServer.on('request', (request) => {
    fs.appendFileSync(requestLog, `${request.method} ${request.url}\n`);
  });
  process.stdout.write(`${port}\n`);
});
