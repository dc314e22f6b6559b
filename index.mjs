// ESM entry: the same functions as the CommonJS entry (one copy of the state, one registry).
import api from './index.js'

export const { uncacheTree, verifyCollected, UncacheError } = api
export default api
