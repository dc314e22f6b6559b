// `node --import uncache-tree/register app.mjs`: installs the requirer registry before user code
// runs. It has no exports; importing it is the whole effect.
export {}
