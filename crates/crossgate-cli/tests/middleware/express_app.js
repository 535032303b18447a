// One Express app behind the `cors` package from npm, configured as its README and the
// most-read answers show, served on 127.0.0.1 (port 0). Prints the port on the first line of
// standard output, then serves until killed.
//
//     node express_app.js CONFIG
//
// The configurations are named in tests/middleware/corpus.toml; an unknown one is an error.
// Every route answers with `200 ok` and a session cookie, as an application behind a login
// would.
'use strict';

const express = require('express');
const cors = require('cors');

const configs = {
  // The README's "Simple Usage": app.use(cors()).
  default: {},
  // "Reflect the request origin, with cookies": origin: true.
  'reflect-credentials': { origin: true, credentials: true },
  // A regex without anchors: /example\.com/ is tested anywhere in the Origin.
  'regex-unanchored': { origin: /example\.com/, credentials: true },
  // The README's regex example, anchored at the end only.
  'regex-suffix': { origin: /\.example\.com$/, credentials: true },
  // `*` with credentials: the package sends both headers as given.
  'wildcard-credentials': { origin: '*', credentials: true },
  list: {
    origin: ['http://app.example.com', 'http://api.example.com'],
    credentials: true,
  },
  // A callback over an allowlist that lets requests without an Origin (and `null`) through:
  // the pattern the README shows, with the common `!origin` shortcut.
  'callback-null': {
    origin: (origin, done) => {
      const allowed = ['http://app.example.com'];
      done(null, !origin || origin === 'null' || allowed.includes(origin));
    },
    credentials: true,
  },
};

const config = process.argv[2];
if (!(config in configs)) {
  console.error(`unknown express config ${JSON.stringify(config)}`);
  process.exit(2);
}

const app = express();
app.use(cors(configs[config]));
app.use((req, res) => {
  res.cookie('session', 's3cr3t', { httpOnly: true, sameSite: 'none', secure: true });
  res.send('ok');
});
const server = app.listen(0, '127.0.0.1', () => {
  console.log(server.address().port);
});
