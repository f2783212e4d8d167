// Syntax highlighting for fenced code in answers, hand-written so the widget stays free of dependencies and
// never builds markup: highlight() returns text nodes and <span class="tok-…"> elements whose text, joined,
// is the code exactly as given.
//
// Each language is a list of rules tried in order at each position. A rule is a sticky regular expression
// (or a small scanner) that either matches at once or gives up within its line: no nested quantifiers over
// overlapping characters, and an unterminated string or comment runs to the end of its line (or of the code)
// instead of failing. So a block is highlighted in time linear in its length, whatever an answer puts in it.
// Where no rule matches, a word is classified by the language (keyword, literal, function name...), and
// anything else stays plain text.

/** The token kinds; each is the class ``tok-<kind>`` (web/widget.css colours them). */
export const TokenKind = Object.freeze({
  KEYWORD: 'keyword', // if, def, SELECT
  STRING: 'string', // quoted text, attribute values
  COMMENT: 'comment',
  NUMBER: 'number',
  LITERAL: 'literal', // true, None, null, &amp;
  FUNCTION: 'function', // a name being defined or called as a function, a shell command
  TYPE: 'type', // a class being defined, a built-in type name
  PROPERTY: 'property', // a JSON or YAML key
  TAG: 'tag', // <div>, </div>
  ATTR: 'attr', // an HTML/XML attribute name
  VARIABLE: 'variable', // $HOME, YAML anchors
  META: 'meta', // @decorator, <!DOCTYPE>, <?xml ?>, ---
});
const K = TokenKind;

const WORD = /[\p{L}_$][\p{L}\p{N}_$]*/uy;
const SPACE = /\s+/y;
const CALL = /[^\S\n]*\(/y; // a name followed by "(" is a call
const COLON = /\s*:/y;
const WORD_CHAR = /[\p{L}\p{N}_]/u;

const set = (words) => new Set(words.split(/\s+/));

/** Whether ``re`` (sticky) matches in ``code`` at ``at``. */
function matchesAt(re, code, at) {
  re.lastIndex = at;
  return re.test(code);
}

const isCall = (code, end) => matchesAt(CALL, code, end);
const afterSpace = (ctx, pos) => pos === 0 || /\s/.test(ctx.code[pos - 1]);

// pieces shared by several languages
const NUMBER = /(?:0[xX][\da-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d[\d_]*)?)(?:n|[jJ]|[lLuUfF]{1,3})?/y;
const DQ_LINE = /"(?:[^"\\\n]|\\[^])*"?/y;
const SQ_LINE = /'(?:[^'\\\n]|\\[^])*'?/y;
const SLASH_COMMENT = /\/\/.*/y;
const BLOCK_COMMENT = /\/\*[^]*?(?:\*\/|$)/y;
const HASH_COMMENT = /#.*/y;

// --- Python -----------------------------------------------------------------------------------------

const PY_KEYWORDS = set(`and as assert async await break class continue def del elif else except finally for from global
  if import in is lambda nonlocal not or pass raise return try while with yield`);
const PY_LITERALS = set('True False None Ellipsis NotImplemented');

const PYTHON = {
  rules: [
    { re: HASH_COMMENT, kind: K.COMMENT },
    { re: /[rRbBfFuU]{0,2}(?:"""[^]*?(?:"""|$)|'''[^]*?(?:'''|$)|"(?:[^"\\\n]|\\[^])*"?|'(?:[^'\\\n]|\\[^])*'?)/y, kind: K.STRING },
    { re: /@[\p{L}_][\p{L}\p{N}_.]*/uy, kind: K.META, when: (ctx) => ctx.bol },
    { re: NUMBER, kind: K.NUMBER },
  ],
  word(text, end, ctx) {
    if (ctx.prev === '.') return isCall(ctx.code, end) ? K.FUNCTION : '';
    if (ctx.prev === 'def') return K.FUNCTION;
    if (ctx.prev === 'class') return K.TYPE;
    if (PY_KEYWORDS.has(text)) return K.KEYWORD;
    if (PY_LITERALS.has(text)) return K.LITERAL;
    return isCall(ctx.code, end) ? K.FUNCTION : '';
  },
};

// --- JavaScript and TypeScript ----------------------------------------------------------------------

const JS_KEYWORDS = set(`break case catch class const continue debugger default delete do else export extends finally for
  function if import in instanceof let new return static super switch this throw try typeof var void while with yield
  async await interface enum implements declare namespace abstract private protected public readonly keyof infer
  satisfies`);
const JS_SOFT_KEYWORDS = set('of as from'); // keywords only where they are not called
const JS_LITERALS = set('true false null undefined NaN Infinity');
const JS_TYPES = set('string number boolean any unknown never object symbol bigint');
// after these, a "/" starts a regular expression rather than a division
const JS_REGEX_AFTER = set('( , = : [ ! & | ? { ; + - * % > ~ ^ return typeof case do else in of delete void throw new yield await');

/** The end of the regular expression literal at ``pos``, or -1 when the line ends first. */
function scanRegex(code, pos) {
  let inClass = false;
  for (let i = pos + 1; i < code.length; i += 1) {
    const c = code[i];
    if (c === '\n') return -1;
    if (c === '\\') {
      i += 1;
      if (i >= code.length || code[i] === '\n') return -1;
    } else if (inClass) {
      if (c === ']') inClass = false;
    } else if (c === '[') {
      inClass = true;
    } else if (c === '/') {
      let end = i + 1;
      while (end < code.length && /[a-z]/.test(code[end])) end += 1;
      return end;
    }
  }
  return -1;
}

const JAVASCRIPT = {
  rules: [
    { re: SLASH_COMMENT, kind: K.COMMENT },
    { re: BLOCK_COMMENT, kind: K.COMMENT },
    { re: DQ_LINE, kind: K.STRING },
    { re: SQ_LINE, kind: K.STRING },
    { re: /`(?:[^`\\]|\\[^])*`?/y, kind: K.STRING },
    {
      // a failed scan is remembered to the end of its line, so a line of stray slashes stays linear
      scan(code, pos, ctx) {
        if (code[pos] !== '/' || pos < ctx.noRegexUntil || (ctx.prev && !JS_REGEX_AFTER.has(ctx.prev))) return -1;
        const end = scanRegex(code, pos);
        if (end < 0) {
          const eol = code.indexOf('\n', pos);
          ctx.noRegexUntil = eol < 0 ? code.length : eol;
        }
        return end;
      },
      kind: K.STRING,
    },
    { re: NUMBER, kind: K.NUMBER },
  ],
  word(text, end, ctx) {
    const call = isCall(ctx.code, end);
    if (ctx.prev === '.') return call ? K.FUNCTION : '';
    if (ctx.prev === 'function') return K.FUNCTION;
    if (ctx.prev === 'class' || ctx.prev === 'extends' || ctx.prev === 'implements' || ctx.prev === 'interface') return K.TYPE;
    if (JS_KEYWORDS.has(text)) return K.KEYWORD;
    if (JS_LITERALS.has(text)) return K.LITERAL;
    if (call) return K.FUNCTION;
    if (JS_SOFT_KEYWORDS.has(text)) return K.KEYWORD;
    if (JS_TYPES.has(text) && ctx.prev === ':') return K.TYPE;
    return '';
  },
};

// --- JSON -------------------------------------------------------------------------------------------

const JSON_LANGUAGE = {
  rules: [
    { re: DQ_LINE, kind: (text, end, ctx) => (matchesAt(COLON, ctx.code, end) ? K.PROPERTY : K.STRING) },
    { re: /-?(?:\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/y, kind: K.NUMBER },
    { re: SLASH_COMMENT, kind: K.COMMENT }, // JSON with comments (tsconfig.json, settings.json)
    { re: BLOCK_COMMENT, kind: K.COMMENT },
  ],
  word: (text) => (text === 'true' || text === 'false' || text === 'null' ? K.LITERAL : ''),
};

// --- shell ------------------------------------------------------------------------------------------

const SH_KEYWORDS = set(`if then else elif fi for while until do done case esac in function select return break continue
  local export readonly declare unset shift exit source alias time`);
// after these (or at the start of a line) a word is a command
const SH_COMMAND_AFTER = set('| & ; ( { ` ! then do else elif if while until time');

const BASH = {
  rules: [
    { re: HASH_COMMENT, kind: K.COMMENT, when: afterSpace },
    { re: DQ_LINE, kind: K.STRING },
    { re: /'[^'\n]*'?/y, kind: K.STRING }, // no escapes in single quotes
    { re: /\$(?:\{[^}\n]*\}?|[\p{L}_][\p{L}\p{N}_]*|[0-9@#?*!$-])/uy, kind: K.VARIABLE },
    { re: /\d+(?:\.\d+)?(?![\p{L}\p{N}_])/uy, kind: K.NUMBER },
  ],
  wordRe: /[\p{L}_][\p{L}\p{N}_.-]*/uy, // apt-get, run.sh
  word(text, end, ctx) {
    if (ctx.code[end] === '=') return K.VARIABLE; // NAME=value
    if (SH_KEYWORDS.has(text)) return K.KEYWORD;
    if (ctx.bol || SH_COMMAND_AFTER.has(ctx.prev)) return K.FUNCTION;
    return '';
  },
};

// --- SQL --------------------------------------------------------------------------------------------

const SQL_KEYWORDS = set(`SELECT FROM WHERE AND OR NOT IN IS LIKE ILIKE BETWEEN EXISTS AS ON JOIN INNER LEFT RIGHT FULL OUTER
  CROSS NATURAL USING GROUP BY ORDER HAVING LIMIT OFFSET FETCH FIRST NEXT ROWS ONLY UNION ALL INTERSECT EXCEPT DISTINCT
  INSERT INTO VALUES UPDATE SET DELETE RETURNING CREATE ALTER DROP TRUNCATE TABLE VIEW INDEX UNIQUE PRIMARY FOREIGN KEY
  REFERENCES CONSTRAINT DEFAULT CHECK CASCADE IF WITH RECURSIVE CASE WHEN THEN ELSE END ASC DESC NULLS BEGIN COMMIT
  ROLLBACK TRANSACTION GRANT REVOKE TO DATABASE SCHEMA COLUMN ADD RENAME OVER PARTITION WINDOW ESCAPE COLLATE
  CONFLICT DO NOTHING REPLACE EXPLAIN ANALYZE`);
const SQL_TYPES = set(`INT INTEGER SMALLINT BIGINT SERIAL BIGSERIAL DECIMAL NUMERIC REAL FLOAT DOUBLE PRECISION CHAR VARCHAR
  TEXT BOOLEAN BOOL DATE TIME TIMESTAMP TIMESTAMPTZ INTERVAL UUID JSON JSONB BLOB BYTEA`);
const SQL_LITERALS = set('NULL TRUE FALSE');

const SQL = {
  rules: [
    { re: /--.*/y, kind: K.COMMENT },
    { re: BLOCK_COMMENT, kind: K.COMMENT },
    { re: /'(?:[^'\\]|''|\\[^])*'?/y, kind: K.STRING },
    { re: /"[^"\n]*"?|`[^`\n]*`?/y, kind: '' }, // quoted names are names, not strings
    { re: NUMBER, kind: K.NUMBER },
  ],
  word(text, end, ctx) {
    const upper = text.toUpperCase();
    if (ctx.prev === '.') return '';
    if (SQL_LITERALS.has(upper)) return K.LITERAL;
    if (SQL_KEYWORDS.has(upper)) return K.KEYWORD;
    if (SQL_TYPES.has(upper)) return K.TYPE;
    return isCall(ctx.code, end) ? K.FUNCTION : '';
  },
};

// --- YAML -------------------------------------------------------------------------------------------

const YAML_LITERALS = set('true false null yes no on off True False Null Yes No On Off TRUE FALSE NULL YES NO ON OFF');

/** Whether a key of ``text`` ends at ``end``: a ":" then a space, a line end or the end of the code. */
const yamlKey = (text, end, ctx) => (ctx.code[end] === ':' && (end + 1 >= ctx.code.length || /\s/.test(ctx.code[end + 1])) ? K.PROPERTY : null);

const YAML = {
  rules: [
    { re: HASH_COMMENT, kind: K.COMMENT, when: afterSpace },
    { re: /(?:---|\.\.\.)(?=\s|$)/y, kind: K.META, when: (ctx, pos) => pos === 0 || ctx.code[pos - 1] === '\n' },
    { re: /-(?=\s|$)/y, kind: '', when: (ctx) => ctx.bol, keepsBol: true }, // a list item's dash
    {
      re: /"(?:[^"\\\n]|\\.)*"|'(?:[^'\n]|'')*'|[^\s#'"[\]{},:&*!|>%@`-][^\n#:]*(?::[^\s#:][^\n#:]*)*/y,
      kind: yamlKey,
      when: (ctx) => ctx.bol,
    },
    { re: /"(?:[^"\\\n]|\\[^])*"?|'(?:[^'\n]|'')*'?/y, kind: K.STRING },
    { re: /[&*][\p{L}\p{N}_-]+/uy, kind: K.VARIABLE, when: afterSpace }, // anchors and aliases
    { re: /!!?[\p{L}\p{N}_/-]*/uy, kind: K.TYPE, when: afterSpace }, // tags
    {
      re: /[-+]?(?:0x[\da-fA-F]+|\d[\d_]*(?:\.\d*)?(?:[eE][+-]?\d+)?|\.(?:inf|Inf|INF|nan|NaN|NAN))/y,
      kind: (text, end, ctx) => (end >= ctx.code.length || /[\s,\]}]/.test(ctx.code[end]) ? K.NUMBER : null),
      when: (ctx, pos) => pos === 0 || /[\s,[:]/.test(ctx.code[pos - 1]), // not the "2.3" of v1.2.3
    },
  ],
  word: (text) => (YAML_LITERALS.has(text) ? K.LITERAL : ''),
};

// --- HTML and XML (tags, attributes, comments, entities) ---------------------------------------------

const MARKUP = {
  rules: [
    { re: /<!--[^]*?(?:-->|$)/y, kind: K.COMMENT },
    { re: /<!\[CDATA\[[^]*?(?:\]\]>|$)/y, kind: K.STRING },
    { re: /<![^>]*>?|<\?[^]*?(?:\?>|$)/y, kind: K.META },
    { re: /<\/?[\p{L}_][\p{L}\p{N}_:.-]*/uy, kind: K.TAG, next: 'tag' },
    { re: /&(?:#\d+|#[xX][\da-fA-F]+|[A-Za-z][A-Za-z\d]*);/y, kind: K.LITERAL },
    // inside a tag, until its ">"
    { state: 'tag', re: /\/?>/y, kind: K.TAG, next: '' },
    { state: 'tag', re: /"[^"]*"?|'[^']*'?/y, kind: K.STRING },
    { state: 'tag', re: /[^\s"'<>=`/]+/y, kind: (text, end, ctx) => (ctx.prev === '=' ? K.STRING : K.ATTR) },
  ],
  word: () => '',
};

// --- anything else: strings, numbers and comments ----------------------------------------------------

const GENERIC = {
  rules: [
    { re: SLASH_COMMENT, kind: K.COMMENT },
    { re: BLOCK_COMMENT, kind: K.COMMENT },
    { re: /(?:#|--)(?=[\s!#]|$).*/y, kind: K.COMMENT, when: afterSpace }, // "# note", "-- note", "#!/bin/sh"
    { re: DQ_LINE, kind: K.STRING },
    { re: SQ_LINE, kind: K.STRING, when: (ctx, pos) => !WORD_CHAR.test(ctx.code[pos - 1] ?? '') }, // not "don't"
    { re: NUMBER, kind: K.NUMBER },
  ],
  word: () => '',
};

const LANGUAGES = new Map([
  ...['python', 'py', 'python3', 'py3', 'pycon', 'ipython'].map((name) => [name, PYTHON]),
  ...['javascript', 'js', 'mjs', 'cjs', 'jsx', 'typescript', 'ts', 'tsx', 'mts', 'cts'].map((name) => [name, JAVASCRIPT]),
  ...['json', 'jsonc', 'json5', 'jsonl'].map((name) => [name, JSON_LANGUAGE]),
  ...['bash', 'sh', 'shell', 'zsh', 'ksh'].map((name) => [name, BASH]),
  ...['sql', 'mysql', 'postgresql', 'postgres', 'psql', 'pgsql', 'sqlite', 'plsql', 'tsql'].map((name) => [name, SQL]),
  ...['yaml', 'yml'].map((name) => [name, YAML]),
  ...['html', 'htm', 'xhtml', 'xml', 'svg', 'xsl', 'xslt', 'rss', 'atom', 'plist', 'vue'].map((name) => [name, MARKUP]),
]);

/**
 * The tokens of ``code``: ``[kind, text]`` pairs (kind '' for plain text) whose texts, joined, are ``code``.
 * ``language`` is a fenced block's info word ("python", "ts", ...); one this module does not know gets the
 * generic rules.
 */
export function tokenize(code, language) {
  const lang = LANGUAGES.get(String(language).toLowerCase()) || GENERIC;
  const wordRe = lang.wordRe || WORD;
  // prev: the last token that is neither space nor comment; bol: nothing but space since the line began
  const ctx = { code, prev: '', bol: true, state: '', noRegexUntil: 0 };
  const out = [];
  const push = (kind, text) => {
    const last = out[out.length - 1];
    if (last && last[0] === kind) last[1] += text;
    else out.push([kind, text]);
  };
  let pos = 0;
  while (pos < code.length) {
    let text = '';
    let kind = '';
    let rule = null;
    for (const candidate of lang.rules) {
      if ((candidate.state || '') !== ctx.state || (candidate.when && !candidate.when(ctx, pos))) continue;
      let end;
      if (candidate.scan) {
        end = candidate.scan(code, pos, ctx);
      } else {
        candidate.re.lastIndex = pos;
        end = candidate.re.test(code) ? candidate.re.lastIndex : -1;
      }
      if (end <= pos) continue;
      const found = code.slice(pos, end);
      const k = typeof candidate.kind === 'function' ? candidate.kind(found, end, ctx) : candidate.kind;
      if (k === null) continue;
      [text, kind, rule] = [found, k, candidate];
      break;
    }
    if (!rule) {
      SPACE.lastIndex = pos;
      wordRe.lastIndex = pos;
      if (SPACE.test(code)) {
        text = code.slice(pos, SPACE.lastIndex);
        push('', text);
        if (text.includes('\n')) ctx.bol = true;
        pos += text.length;
        continue;
      }
      if (ctx.state === '' && wordRe.test(code)) {
        text = code.slice(pos, wordRe.lastIndex);
        kind = lang.word(text, wordRe.lastIndex, ctx);
      } else {
        text = code[pos];
      }
    }
    push(kind, text);
    pos += text.length;
    if (kind !== K.COMMENT) {
      ctx.prev = text;
      if (!rule || !rule.keepsBol) ctx.bol = false;
    }
    if (rule && rule.next !== undefined) ctx.state = rule.next;
  }
  return out;
}

/** ``code`` highlighted as ``language``: a fragment of text nodes and ``<span class="tok-…">`` elements. */
export function highlight(code, language) {
  const frag = document.createDocumentFragment();
  for (const [kind, text] of tokenize(String(code ?? ''), language || '')) {
    if (!kind) {
      frag.append(text);
      continue;
    }
    const span = document.createElement('span');
    span.className = `tok-${kind}`;
    span.textContent = text;
    frag.append(span);
  }
  return frag;
}
