// `node --require uncache-tree/register app.js`: installs the requirer registry before user code
// runs. It has no exports; importing it is the whole effect.
export {}
