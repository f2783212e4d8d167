"""The widget's words (web/i18n.js), read without a browser: English and Simplified Chinese have the same keys
and fill the same slots, every key a module asks for exists, and the language is picked as docs/web.md says."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from graphgate.testing.stack import ROOT

WEB = ROOT / "web"
NODE = shutil.which("node")
# t('key'), this.t('key', …), t(cond ? 'a' : 'b'): every quoted word that follows t( or a ? / : inside one
CALL = re.compile(r"\bt\(([^()]*?)[,)]")
WORD = re.compile(r"'([A-Za-z][A-Za-z0-9]*)'")
# tables whose values are keys: { approve: 'approve', ... }
TABLES = ("BUTTON_TEXT", "CHOICE_TEXT", "TALLY_WORDS", "CONNECTION_TEXT", "STATUS_TEXT", "STATE_WORDS")

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


def catalogs() -> dict[str, dict[str, str]]:
    """Each catalog's entries: a string as it is, a function as what it says for n = 1 and n = 2."""
    script = (
        f"import('{(WEB / 'i18n.js').as_uri()}').then((m) => {{"
        "  const out = {};"
        "  for (const [lang, cat] of Object.entries(m.CATALOGS)) out[lang] = Object.fromEntries(Object.entries(cat)"
        "    .map(([k, v]) => [k, typeof v === 'function' ? v({n: 1}) + ' | ' + v({n: 2}) : v]));"
        "  console.log(JSON.stringify(out));"
        "})"
    )
    done = subprocess.run([str(NODE), "--input-type=module", "-e", script], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def used_keys() -> dict[str, set[str]]:
    """The keys each module asks the catalog for."""
    found: dict[str, set[str]] = {}
    for path in sorted(WEB.glob("*.js")):
        if path.name == "i18n.js":
            continue
        source = path.read_text(encoding="utf-8")
        keys = {w for call in CALL.findall(source) for w in WORD.findall(call)}
        for table in TABLES:
            body = re.search(rf"const {table} = \{{(.*?)\}};", source, re.S)
            if body:
                keys |= set(re.findall(r":\s*'([A-Za-z][A-Za-z0-9]*)'", body.group(1)))
        if keys:
            found[path.name] = keys
    return found


def test_both_catalogs_have_the_same_keys_and_slots() -> None:
    cats = catalogs()
    assert set(cats) == {"en", "zh"}
    assert set(cats["en"]) == set(cats["zh"])
    slot = re.compile(r"\{(\w+)\}")
    for key, english in cats["en"].items():
        assert set(slot.findall(english)) == set(slot.findall(cats["zh"][key])), key
        assert cats["zh"][key] != english, f"{key}: not translated"  # (the Chinese catalog has no English left)


def test_every_key_the_modules_ask_for_exists() -> None:
    english = set(catalogs()["en"])
    used = used_keys()
    assert {"turn.js", "element.js", "composer.js", "approval.js"} <= set(used)
    missing = {name: sorted(keys - english) for name, keys in used.items() if keys - english}
    assert missing == {}


def test_the_language_is_picked_from_tags() -> None:
    script = (
        f"import('{(WEB / 'i18n.js').as_uri()}').then((m) => console.log(JSON.stringify(["
        "  m.languageOf('zh-CN'), m.languageOf('zh-Hans-SG'), m.languageOf('en_GB'), m.languageOf('fr'),"
        "  m.languageOf(''), m.pickLanguage(null, ['fr-FR', 'zh-TW', 'en']), m.pickLanguage(null, ['fr']),"
        "  m.translator('zh')('queuedAhead', {n: 3}), m.translator('xx')('statusDone'), m.translator('zh').lang,"
        "  m.localized({en: 'Audience', zh: '读者'}, 'zh'), m.localized({en: 'Audience'}, 'zh'), m.localized('x', 'zh'),"
        "])))"
    )
    done = subprocess.run([str(NODE), "--input-type=module", "-e", script], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == [
        "zh", "zh", "en", None, None, "zh", "en",
        "排队中（前面还有 3 个）", "Done", "zh",
        "读者", "Audience", "x",
    ]  # fmt: skip
