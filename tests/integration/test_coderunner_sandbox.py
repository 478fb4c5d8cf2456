"""The sandbox, attacked and used through the real coderunner API.

Every escape attempt must come back as a refusal (ok=false, a clear error
type and message, never a 5xx), and the service must stay healthy; every
benign program must return the right result.
"""

from __future__ import annotations

import base64
import concurrent.futures
from typing import Any

import httpx
import pytest

from tests import document_samples
from tests.integration.fixtures.platform import Platform

pytestmark = pytest.mark.integration

REFUSED = {"SandboxViolation", "NameError", "SyntaxError"}

#: (name, program, error types that count as refused)
ESCAPES: list[tuple[str, str, set[str]]] = [
    ("import os", "import os", REFUSED),
    ("import sys", "import sys", REFUSED),
    ("import subprocess", "import subprocess\nsubprocess.run(['id'])", REFUSED),
    ("import socket", "import socket", REFUSED),
    ("import ctypes", "import ctypes", REFUSED),
    ("import importlib", "import importlib\nimportlib.import_module('os')", REFUSED),
    ("import pickle", "import pickle", REFUSED),
    ("import builtins", "import builtins", REFUSED),
    ("from os import system", "from os import system", REFUSED),
    ("dunder import", "m = __import__('os')", REFUSED),
    ("relative import", "from . import x", REFUSED),
    ("open a host file", "result = open('/etc/passwd').read()", REFUSED),
    ("subclasses walk", "result = ().__class__.__bases__[0].__subclasses__()", REFUSED),
    ("dynamic getattr dunder", "result = getattr((), '__class__')", REFUSED),
    ("getattr on a builtin's self", "result = getattr(len, '__self__')", REFUSED),
    ("f-string attribute walk", "result = f'{().__class__}'", REFUSED),
    ("str.format attribute walk", "result = '{0.__class__.__mro__}'.format(1)", REFUSED),
    ("str.format_map walk", "result = '{x.__class__}'.format_map({'x': 1})", REFUSED),
    ("string.Formatter walk", "import string\nresult = string.Formatter().get_field('0.__class__', [1], {})", REFUSED),
    ("generator frame", "def g():\n    yield 1\nresult = g().gi_frame.f_globals", REFUSED),
    ("generator frame via getattr", "def g():\n    yield 1\nresult = getattr(g(), 'gi_frame')", REFUSED),
    ("traceback frame", "try:\n    1/0\nexcept Exception as e:\n    result = e.__traceback__.tb_frame", REFUSED),
    (
        "traceback via getattr",
        "try:\n    1/0\nexcept Exception as e:\n    result = getattr(e, '__traceback__')",
        REFUSED,
    ),
    ("function globals", "def f():\n    pass\nresult = f.__globals__", REFUSED),
    ("eval", "result = eval('1 + 1')", REFUSED),
    ("exec", "exec('x = 1')", REFUSED),
    ("compile", "result = compile('1', 'x', 'eval')", REFUSED),
    ("globals()", "result = globals()", REFUSED),
    ("vars()", "result = vars()", REFUSED),
    ("type() builds a class", "T = type('T', (), {'x': 1})", REFUSED),
    ("breakpoint", "breakpoint()", REFUSED),
    ("pandas read_csv host file", "import pandas as pd\nresult = pd.read_csv('/etc/passwd')", REFUSED),
    ("pandas read_json URL", "import pandas as pd\nresult = pd.read_json('http://127.0.0.1:8081/healthz')", REFUSED),
    ("pandas read_pickle", "import pandas as pd\npd.read_pickle('/tmp/x.pkl')", REFUSED),
    ("pandas to_csv to a file", "import pandas as pd\npd.DataFrame({'a': [1]}).to_csv('/tmp/leak.csv')", REFUSED),
    ("pandas to_pickle", "import pandas as pd\npd.DataFrame({'a': [1]}).to_pickle('/tmp/x.pkl')", REFUSED),
    ("pandas query evaluates strings", "import pandas as pd\npd.DataFrame({'a': [1]}).query('a > 0')", REFUSED),
    ("pandas DataFrame.eval", "import pandas as pd\npd.DataFrame({'a': [1]}).eval('b = a + 1')", REFUSED),
    ("pandas.eval", "import pandas as pd\nresult = pd.eval('1 + 1')", REFUSED),
    ("pandas submodule walk to os", "import pandas as pd\nresult = pd.io.common.os", REFUSED),
    ("from pandas import io", "from pandas import io", REFUSED),
    ("pandas ExcelFile", "import pandas as pd\npd.ExcelFile('/etc/passwd')", REFUSED),
    ("numpy load", "import numpy as np\nnp.load('/tmp/x.npy', allow_pickle=True)", REFUSED),
    ("numpy fromfile", "import numpy as np\nresult = np.fromfile('/etc/passwd')", REFUSED),
    ("numpy ctypeslib", "import numpy as np\nresult = np.ctypeslib", REFUSED),
    ("numpy stride tricks", "import numpy as np\nresult = np.lib.stride_tricks", REFUSED),
    ("numpy tofile", "import numpy as np\nnp.zeros(3).tofile('/tmp/x')", REFUSED),
    ("numpy ndarray.ctypes", "import numpy as np\nresult = np.zeros(3).ctypes", REFUSED),
    ("numpy f2py", "import numpy.f2py", REFUSED),
    ("module monkeypatch", "import json\njson.loads = len", REFUSED),
    ("setattr on a module", "import json\nsetattr(json, 'dumps', len)", REFUSED),
    ("class of a library changed", "import pandas as pd\npd.DataFrame.sum = len", REFUSED),
    ("print to a file object", "print('x', file=[])", REFUSED),
    ("random.SystemRandom", "import random\nresult = random.SystemRandom().random()", REFUSED),
]

EXHAUSTION: list[tuple[str, str, set[str]]] = [
    ("infinite loop", "while True:\n    pass", {"TimeoutError"}),
    ("memory bomb string", "x = 'a' * (10 ** 10)", {"MemoryError", "WorkerCrashed"}),
    ("memory bomb list", "x = [0] * (10 ** 9)", {"MemoryError", "WorkerCrashed"}),
    ("huge power", "x = 10 ** 10 ** 10", {"TimeoutError", "MemoryError", "WorkerCrashed"}),
    ("deep recursion", "def f(n):\n    return f(n + 1)\nf(0)", {"RecursionError"}),
    ("endless print", "while True:\n    print('spam' * 100)", {"TimeoutError"}),
    (
        "growing list",
        "x = []\nwhile True:\n    x.append('y' * 10000)",
        {"MemoryError", "TimeoutError", "WorkerCrashed"},
    ),
]


def execute(client: httpx.Client, code: str, **extra: Any) -> dict[str, Any]:
    response = client.post("/api/v1/execute", json={"code": code, **extra})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def runner(platform: Platform) -> httpx.Client:
    with platform.client("coderunner", "code:execute") as client:
        yield client


@pytest.mark.parametrize(("name", "code", "expected"), ESCAPES, ids=[case[0] for case in ESCAPES])
def test_escape_attempt_is_refused(runner: httpx.Client, name: str, code: str, expected: set[str]) -> None:
    answer = execute(runner, code, timeout_s=5)
    assert answer["ok"] is False, f"{name} was not refused: {answer}"
    assert answer["error"]["type"] in expected, answer["error"]
    assert answer["error"]["message"]
    assert answer["error"]["line"] is not None or answer["error"]["type"] == "NameError", answer["error"]


def test_refusals_name_what_was_refused_and_the_line(runner: httpx.Client) -> None:
    answer = execute(runner, "x = 1\ny = 2\nimport socket")
    assert answer["error"] == {
        "type": "SandboxViolation",
        "message": answer["error"]["message"],
        "line": 3,
    }
    assert "'socket'" in answer["error"]["message"]
    walk = execute(runner, "a = 1\nb = a.__class__")
    assert walk["error"]["line"] == 2 and "__class__" in walk["error"]["message"]


@pytest.mark.parametrize(("name", "code", "expected"), EXHAUSTION, ids=[case[0] for case in EXHAUSTION])
def test_runaway_program_costs_one_worker_not_the_service(
    platform: Platform, runner: httpx.Client, name: str, code: str, expected: set[str]
) -> None:
    answer = execute(runner, code, timeout_s=2, memory_mb=256)
    assert answer["ok"] is False and answer["error"]["type"] in expected, answer
    assert httpx.get(platform.url("coderunner") + "/healthz", timeout=5).status_code == 200
    assert execute(runner, "result = 6 * 7", timeout_s=30)["result"] == 42


def test_large_output_is_truncated_with_a_marker(runner: httpx.Client) -> None:
    answer = execute(runner, "for i in range(30000):\n    print('x' * 99)", timeout_s=20)
    assert answer["ok"] is True
    assert len(answer["stdout"]) < 1024 * 1024 + 200
    assert answer["stdout"].rstrip().endswith("characters]")
    assert "[output truncated" in answer["stdout"]


def test_sandbox_sees_no_environment_and_an_empty_directory(runner: httpx.Client) -> None:
    answer = execute(runner, "import pandas as pd\nresult = pd.DataFrame({'a': [1]}).to_csv()")
    assert answer["ok"] and answer["result"].startswith(",a")
    # No name in the sandbox reaches the environment or the file system.
    for probe in ("import os\nresult = os.environ", "result = open('.').read()", "import pathlib"):
        assert execute(runner, probe)["ok"] is False


BENIGN: list[tuple[str, str, dict[str, Any], Any]] = [
    ("arithmetic and inputs", "result = inputs['a'] * inputs['b']", {"a": 6, "b": 7}, 42),
    (
        "comprehensions and sorting with key",
        "words = inputs['words']\nresult = sorted({w.lower() for w in words}, key=lambda w: (len(w), w))",
        {"words": ["Pear", "fig", "apple", "FIG", "kiwi"]},
        ["fig", "kiwi", "pear", "apple"],
    ),
    ("f-strings", "name = 'Ada'\nresult = f'{name!r} has {len(name):03d} letters'", {}, "'Ada' has 003 letters"),
    (
        "classes",
        "class Account:\n    def __init__(self, owner):\n        self.owner = owner\n        self.balance = 0\n"
        "    def deposit(self, amount):\n        self.balance += amount\n        return self\n"
        "a = Account('ana').deposit(5).deposit(7)\nresult = [a.owner, a.balance]",
        {},
        ["ana", 12],
    ),
    (
        "json and re",
        "import json, re\ndoc = json.loads(inputs['doc'])\nresult = re.findall(r'\\d+', doc['text'])",
        {"doc": '{"text": "order 12 of 345"}'},
        ["12", "345"],
    ),
    (
        "datetime",
        "from datetime import date, timedelta\nresult = (date(2024, 2, 28) + timedelta(days=2)).isoformat()",
        {},
        "2024-03-01",
    ),
    (
        "collections, itertools, functools",
        "from collections import Counter, defaultdict\nimport itertools, functools\n"
        "c = Counter('mississippi')\nd = defaultdict(list)\nfor k, g in itertools.groupby(sorted('aabbbc')):\n"
        "    d[k] = len(list(g))\n"
        "result = [c.most_common(1)[0], dict(d), functools.reduce(lambda x, y: x * y, [1, 2, 3, 4])]",
        {},
        [["i", 4], {"a": 2, "b": 3, "c": 1}, 24],
    ),
    (
        "decimal and statistics",
        "from decimal import Decimal\nimport statistics\nresult = [str(Decimal('0.1') + Decimal('0.2')), "
        "statistics.median([3, 1, 2])]",
        {},
        ["0.3", 2],
    ),
    (
        "counting with item augmented assignment",
        "counts = {}\nfor w in 'a b a c a'.split():\n"
        "    counts[w] = counts.get(w, 0)\n    counts[w] += 1\nresult = counts",
        {},
        {"a": 3, "b": 1, "c": 1},
    ),
    (
        "numpy",
        "import numpy as np\na = np.arange(6).reshape(2, 3)\nresult = [int(a.sum()), a.T.shape, float(np.mean(a))]",
        {},
        [15, [3, 2], 2.5],
    ),
]


@pytest.mark.parametrize(("name", "code", "inputs", "expected"), BENIGN, ids=[case[0] for case in BENIGN])
def test_benign_program_returns_its_result(
    runner: httpx.Client, name: str, code: str, inputs: dict[str, Any], expected: Any
) -> None:
    answer = execute(runner, code, inputs=inputs)
    assert answer["ok"] is True, answer["error"]
    assert answer["result"] == expected
    assert answer["error"] is None and answer["duration_ms"] >= 0


def test_pandas_groupby_and_merge_with_table_inputs(runner: httpx.Client) -> None:
    orders = {
        "schema": {"fields": [{"name": "customer", "type": "string"}, {"name": "amount", "type": "number"}]},
        "data": [
            {"customer": "a", "amount": 10.0},
            {"customer": "b", "amount": 5.5},
            {"customer": "a", "amount": 2.5},
        ],
    }
    code = (
        "import pandas as pd\n"
        "orders = inputs['orders']\n"
        "customers = pd.DataFrame({'customer': ['a', 'b'], 'country': ['KR', 'FR']})\n"
        "totals = orders.groupby('customer', as_index=False)['amount'].sum()\n"
        "result = totals.merge(customers, on='customer').sort_values('customer')\n"
        "print(len(orders))\n"
    )
    answer = execute(runner, code, inputs={"orders": orders})
    assert answer["ok"] is True, answer["error"]
    table = answer["result"]
    assert [field["name"] for field in table["schema"]["fields"]] == ["index", "customer", "amount", "country"]
    rows = [{k: row[k] for k in ("customer", "amount", "country")} for row in table["data"]]
    assert rows == [
        {"customer": "a", "amount": 12.5, "country": "KR"},
        {"customer": "b", "amount": 5.5, "country": "FR"},
    ]
    assert answer["stdout"] == "3\n"


def test_runtime_errors_report_type_message_and_line(runner: httpx.Client) -> None:
    answer = execute(runner, "x = {}\n\ny = x['missing']")
    assert answer["ok"] is False
    assert answer["error"] == {"type": "KeyError", "message": "'missing'", "line": 3}


def test_unserializable_result_is_a_clear_error(runner: httpx.Client) -> None:
    answer = execute(runner, "class Thing:\n    pass\nresult = Thing()")
    assert answer["ok"] is False and answer["error"]["type"] == "UnserializableResult"
    assert "Thing" in answer["error"]["message"]


def test_limits_beyond_the_maximum_are_a_422(runner: httpx.Client) -> None:
    response = runner.post("/api/v1/execute", json={"code": "result = 1", "timeout_s": 100000})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "timeout_s"
    bad = runner.post("/api/v1/execute", json={"code": 42})
    assert bad.status_code == 422
    unknown = runner.post("/api/v1/execute", json={"code": "result = 1", "sneaky": True})
    assert unknown.status_code == 422


def test_execute_needs_the_code_execute_scope(platform: Platform) -> None:
    with platform.client("coderunner", "flows:read") as client:
        response = client.post("/api/v1/execute", json={"code": "result = 1"})
    assert response.status_code == 403


def test_state_does_not_leak_between_runs(runner: httpx.Client) -> None:
    execute(runner, "from decimal import getcontext\ngetcontext().prec = 3\nimport random\nrandom.seed(1)")
    answer = execute(runner, "from decimal import Decimal\nresult = str(Decimal(1) / Decimal(7))")
    assert answer["result"] == "0.1428571428571428571428571429"


def test_fifty_concurrent_executions_all_answer_correctly(platform: Platform) -> None:
    def one(n: int) -> tuple[int, Any]:
        with platform.client("coderunner", "code:execute") as client:
            body = execute(
                client,
                "import math\nresult = sum(i * i for i in range(inputs['n'])) + math.floor(0.5)",
                inputs={"n": n},
                timeout_s=60,
            )
        return n, body["result"]

    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(one, range(50)))
    assert answers == [(n, sum(i * i for i in range(n))) for n in range(50)]


def test_document_tools_work_inside_the_sandbox_on_bytes(runner: httpx.Client) -> None:
    workbook = base64.b64encode(document_samples.make_xlsx()).decode()
    code = (
        "from dataflow_docs import read_xlsx, render_pdf, read_pdf\n"
        "book = read_xlsx(inputs['book'])\n"
        "sheet = book['sheets'][0]\n"
        "blocks = [{'type': 'paragraph', 'text': 'Regions ' + sheet['name']}]\n"
        "report = render_pdf({'title': 'Sales', 'blocks': blocks})\n"
        "result = {'sheets': [s['name'] for s in book['sheets']], 'pdf_text': read_pdf(report)['pages'][0]['text']}\n"
    )
    answer = execute(runner, code, inputs={"book": workbook}, timeout_s=60)
    assert answer["ok"] is True, answer["error"]
    assert answer["result"]["sheets"] == ["Sales", "Matrix"]
    assert "Regions Sales" in answer["result"]["pdf_text"]


def test_ocr_inside_the_sandbox_is_done_by_the_host(runner: httpx.Client) -> None:
    image = document_samples.encoded(document_samples.text_image(["Invoice 4217 paid"]), "PNG")
    code = "from dataflow_docs import ocr\nresult = ocr(inputs['scan'])\n"
    answer = execute(runner, code, inputs={"scan": base64.b64encode(image).decode()}, timeout_s=60)
    assert answer["ok"] is True, answer["error"]
    assert {"invoice", "4217", "paid"} <= document_samples.recognised(answer["result"])


def test_document_tools_refuse_host_paths_and_bad_input(runner: httpx.Client) -> None:
    answer = execute(runner, "from dataflow_docs import read_pdf\nresult = read_pdf('/etc/passwd')")
    assert answer["ok"] is False and answer["error"]["line"] == 2
    assert "base64" in answer["error"]["message"]
