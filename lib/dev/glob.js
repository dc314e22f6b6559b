'use strict'
// --ignore GLOB for `uncache-tree dev`: the glob syntax nodemon and .gitignore users write
// (`*`, `**`, `?`, `{a,b}`, `[abc]`), as a RegExp over paths relative to the working directory.
// path.matchesGlob would do, but it is experimental and missing from Node 20 before 20.17.
const path = require('node:path')

function escape(char) {
  return /[\\^$.*+?()[\]{}|/]/.test(char) ? `\\${char}` : char
}

/** The RegExp source of one glob over '/'-separated paths. */
function globSource(glob) {
  let out = ''
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]
    if (c === '*') {
      if (glob[i + 1] === '*') {
        // `**/` matches zero or more directories; `**` alone anything, separators included.
        if (glob[i + 2] === '/') {
          out += '(?:[^/]*/)*'
          i += 2
        } else {
          out += '.*'
          i += 1
        }
      } else {
        out += '[^/]*'
      }
    } else if (c === '?') {
      out += '[^/]'
    } else if (c === '[') {
      const end = glob.indexOf(']', i + 1)
      if (end === -1) out += '\\['
      else {
        const body = glob.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')
        out += `[${body}]`
        i = end
      }
    } else if (c === '{') {
      const end = glob.indexOf('}', i + 1)
      if (end === -1) out += '\\{'
      else {
        out += `(?:${glob.slice(i + 1, end).split(',').map(globSource).join('|')})`
        i = end
      }
    } else {
      out += escape(c)
    }
  }
  return out
}

/**
 * A test for one glob: a glob without '/' matches any path component or the last ones
 * (`*.test.js`, `dist`), as .gitignore does; one with '/' matches from the working directory.
 * A match of a directory covers everything below it.
 * @returns {(file: string) => boolean} takes an absolute path
 */
function globMatcher(glob, cwd) {
  const pattern = glob.replace(/\\/g, '/').replace(/\/+$/, '')
  const anchored = pattern.includes('/') && !pattern.startsWith('**/')
  const body = globSource(pattern.replace(/^\.\//, '').replace(/^\//, ''))
  const re = new RegExp(anchored ? `^${body}(?:/.*)?$` : `(?:^|/)${body}(?:/.*)?$`)
  return (file) => {
    const relative = path.relative(cwd, file).split(path.sep).join('/')
    return re.test(relative) || (!anchored && re.test(file.split(path.sep).join('/')))
  }
}

module.exports = { globMatcher, globSource }
