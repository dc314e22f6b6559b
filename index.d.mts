// Types of the ESM entry (index.mjs): the same named exports as the CommonJS entry (one copy of
// the state), and a default export holding all of them. Documentation: index.d.ts.
import * as api from './index.js'

export * from './index.js'
export default api
