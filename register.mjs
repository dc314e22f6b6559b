// `node --import uncache-tree/register app.mjs`: installs the requirer registry before user code.
import './index.js'
