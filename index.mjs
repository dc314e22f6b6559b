// ESM entry: the same functions as the CommonJS entry (one copy of the state, one registry).
import api from './index.js'

export const { uncacheTree, verifyCollected, explainRetainers, UncacheError } = api
export const { invalidate, reload, hot, watch } = api
export const { snapshot, isolate, rescan } = api
export default api
