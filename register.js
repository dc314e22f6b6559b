'use strict'
// `node --require uncache-tree/register app.js` (or `--import uncache-tree/register`): installs
// the requirer registry before any user code runs, so requirers outside require.cache that are
// created early (createRequire in an ESM entry, other --require preloads) are seen too.
require('./index.js')
