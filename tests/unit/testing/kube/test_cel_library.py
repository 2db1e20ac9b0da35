"""The CEL functions CRD rules use: cel-python's own plus the Kubernetes libraries added in cellib."""

from __future__ import annotations

from typing import Any

import pytest

from orchestration_operator.testing.kube import cel

SELF = {
    "name": "Web-Frontend",
    "serviceId": "drupal::cron.run",
    "csv": "a,b,,c",
    "items": [{"n": 1}, {"n": 2}, {"n": 3}],
    "nums": [3, 1, 2],
    "labels": {"app": "web", "tier": "front"},
    "endpoint": "https://user@api.example.com:8443/v1/run?x=1&x=2&y=",
    "empty": "",
}


def evaluate(expression: str, value: Any = None) -> Any:
    program = cel.compile_expression(expression)
    assert not program.error, program.error
    return cel.evaluate(program, {"self": cel.to_cel(SELF if value is None else value, None)})


CASES: list[tuple[str, Any]] = [
    # celpy's standard library and macros
    ("has(self.name) && !has(self.missing)", True),
    ("self.name.size()", 12),
    ("size(self.items)", 3),
    ("self.serviceId.matches('^[^:]+::.+$')", True),
    ("self.name.startsWith('Web') && self.name.endsWith('end')", True),
    ("self.name.contains('-Fr')", True),
    ("self.items.all(i, i.n > 0)", True),
    ("self.items.exists(i, i.n == 2)", True),
    ("self.items.exists_one(i, i.n > 1)", False),
    ("self.items.map(i, i.n * 2)", [2, 4, 6]),
    ("self.items.filter(i, i.n != 2).map(i, i.n)", [1, 3]),
    ("self.labels.all(k, self.labels[k].size() > 2)", True),
    ("'app' in self.labels", True),
    ("[has(self.name), has(self.other)].filter(x, x).size() == 1", True),
    ("has(self.other) ? self.other : 'fallback'", "fallback"),
    ("int('42') + 1", 43),
    ("string(7) + 'x'", "7x"),
    ("type(self.nums) == list", True),
    ("self == self", True),
    ("duration('1h') > duration('30m')", True),
    ("timestamp('2024-01-01T00:00:00Z') < timestamp('2024-06-01T00:00:00Z')", True),
    ("self.nums.min()", 1),
    # Kubernetes / cel-go string extensions
    ("self.name.lowerAscii()", "web-frontend"),
    ("self.name.upperAscii()", "WEB-FRONTEND"),
    ("'ÄbC'.lowerAscii()", "Äbc"),
    ("self.csv.split(',')", ["a", "b", "", "c"]),
    ("self.csv.split(',', 2)", ["a", "b,,c"]),
    ("self.csv.split(',', 0)", []),
    ("'abc'.split('')", ["a", "b", "c"]),
    ("['a', 'b'].join('-')", "a-b"),
    ("['a', 'b'].join()", "ab"),
    ("self.serviceId.indexOf('::')", 6),
    ("self.serviceId.indexOf('r', 10)", 13),
    ("self.serviceId.lastIndexOf('r')", 13),
    ("self.name.substring(4)", "Frontend"),
    ("self.name.substring(0, 3)", "Web"),
    ("self.name.charAt(0)", "W"),
    ("self.name.charAt(12)", ""),
    ("'  x y  '.trim()", "x y"),
    ("self.csv.replace(',', ';')", "a;b;;c"),
    ("self.csv.replace(',', ';', 1)", "a;b,,c"),
    ("'abc'.reverse()", "cba"),
    ("'%s has %d items'.format(['list', 3])", "list has 3 items"),
    # Kubernetes lists
    ("self.nums.isSorted()", False),
    ("[1, 2, 2].isSorted()", True),
    ("self.nums.sum()", 6),
    ("self.nums.max()", 3),
    ("self.nums.indexOf(2)", 2),
    ("[1, 2, 1].lastIndexOf(1)", 2),
    ("self.nums.indexOf(9)", -1),
    # Kubernetes regex
    ("self.serviceId.find('[a-z]+')", "drupal"),
    ("self.serviceId.findAll('[a-z]+')", ["drupal", "cron", "run"]),
    ("self.serviceId.findAll('[a-z]+', 2)", ["drupal", "cron"]),
    ("'xyz'.find('[0-9]')", ""),
    # Kubernetes URLs
    ("isURL(self.endpoint)", True),
    ("isURL('no scheme')", False),
    ("isURL('/absolute/path')", True),
    ("url(self.endpoint).getScheme()", "https"),
    ("url(self.endpoint).getHost()", "api.example.com:8443"),
    ("url(self.endpoint).getHostname()", "api.example.com"),
    ("url(self.endpoint).getPort()", "8443"),
    ("url(self.endpoint).getEscapedPath()", "/v1/run"),
    ("url(self.endpoint).getQuery()", {"x": ["1", "2"], "y": [""]}),
    ("url('https://[::1]:80/').getHostname()", "::1"),
]


@pytest.mark.parametrize(("expression", "expected"), CASES, ids=[c[0] for c in CASES])
def test_function(expression: str, expected: Any) -> None:
    result = evaluate(expression)
    assert result == expected
    assert type(result) is not bool or type(expected) is bool  # CEL bools, not Python ints


ERRORS = [
    ("self.missing == 1", "no such key: missing"),
    ("self.name > 1", "no such overload"),
    ("1 / 0", "division by zero"),
    ("self.name.substring(20)", "index out of range: 20..12"),
    ("self.name.charAt(13)", "index out of range: 13"),
    ("url('not a url')", "URL parse error during conversion from string: not a url"),
    ("self.name.nope()", "undeclared reference to 'nope' (in activation 'Activation"),
]


@pytest.mark.parametrize(("expression", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_evaluation_errors_are_worded_like_cel_go(expression: str, message: str) -> None:
    with pytest.raises(cel.EvaluationError) as caught:
        evaluate(expression)
    assert str(caught.value).startswith(message)
