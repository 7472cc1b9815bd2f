"""common.fastjson gives what `json` gives, value for value and error for error."""
import json
import subprocess
import sys

import pytest

from common.fastjson import dumps, loads
from devkit.shared_data import REPO_ROOT

DOCUMENTS = [
    '{"server_connection": {"Scheme": "http", "Port": 9999}, "args": {"hookContext": {"id": 5}}}',
    '  [1, 2.5, -3e4, true, false, null, "é\\u00e9\\n", {"a": []}]\n',
    '"text"', "0", "-0.0", "1e400", "NaN", "[Infinity, -Infinity]", '{"a": 1, "a": 2}',
    '"\\ud83d\\ude00 surrogate pair"', "\t{}\r\n",
]
MALFORMED = ["", "   ", "{", '{"a": 1} x', "[1,]", '{"a" 1}', '"\\x"', '"tab\tin string"', "{'a': 1}", "tru",
             "[1] [2]", '"unterminated']
VALUES = [
    {"scene_ids": [1, 2], "event": "update", "reason": "Scene.Update.Post (title)", "enqueued_at": 1796278202.916882,
     "force": False, "not_before": 0.0},
    {"output": "queued scene 5 (update)", "error": None},
    {"output": "é — ✓ \u2028 \x00 \"quoted\" \\", "error": "line\nbreak"},
    [1.5, float("inf"), -0.0, 10**30, "x", None, True],
    {"nested": {"list": [[], {}], "n": -7}},
]


@pytest.mark.parametrize("text", DOCUMENTS)
def test_loads_gives_what_json_gives(text):
    assert json.dumps(loads(text), sort_keys=True) == json.dumps(json.loads(text), sort_keys=True)


@pytest.mark.parametrize("text", MALFORMED)
def test_loads_fails_as_json_fails(text):
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(text)
    with pytest.raises(json.JSONDecodeError) as got:
        loads(text)
    assert (got.value.msg, got.value.pos) == (expected.value.msg, expected.value.pos)


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("ensure_ascii", [True, False])
@pytest.mark.parametrize("separators", [(", ", ": "), (",", ":")])
def test_dumps_gives_json_s_text(value, ensure_ascii, separators):
    assert dumps(value, ensure_ascii=ensure_ascii, separators=separators) == \
        json.dumps(value, ensure_ascii=ensure_ascii, separators=separators, default=str)


def test_neither_imports_json_or_re():
    code = ("import sys; from common.fastjson import dumps, loads; "
            "loads('{\"a\": [1, 2.5, \"x\"]}'); dumps({'a': [1, 2.5, 'x']}); "
            "print(sorted(m for m in ('json', 're', 'enum') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(REPO_ROOT), check=True)
    assert done.stdout.strip() == "[]"


def test_a_malformed_document_raises_json_s_error_before_json_is_imported():
    code = ("import sys\nfrom common.fastjson import loads\ntry:\n    loads('{not json')\n"
            "except ValueError as exc:\n    print(type(exc).__name__, exc.pos)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(REPO_ROOT), check=True)
    assert done.stdout.strip() == "JSONDecodeError 1"
