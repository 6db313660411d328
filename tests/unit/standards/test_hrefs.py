"""Launch hrefs resolve to package files, or are refused with the reason."""

from __future__ import annotations

import unicodedata

import pytest

from content_service.standards import hrefs
from content_service.standards.hrefs import HrefRefused, combine_parameters, join_bases, resolve

NAMES = frozenset(
    {
        "index.html",
        "common/resources/sco.html",
        "a b/page one.html",
        "café/menü.html",
        "nfd/cafe\u0301.html",
        "Content/Start.html",
        "dir/page.html",
    }
)


def _resolve(href: str, *bases: str | None):
    return resolve(href, NAMES, bases=bases, descriptor="imsmanifest.xml", subject="item 'i'")


def _refusal(href: str, *bases: str | None) -> str:
    with pytest.raises(HrefRefused) as refused:
        _resolve(href, *bases)
    return refused.value.problem.code


@pytest.mark.parametrize(
    ("href", "bases", "path"),
    [
        ("index.html", (), "index.html"),
        ("./index.html", (), "index.html"),
        ("dir/../index.html", (), "index.html"),
        ("sco.html", ("common/", "resources/"), "common/resources/sco.html"),
        ("sco.html", ("common", "resources"), "common/resources/sco.html"),
        ("resources/sco.html", ("common/", None, ""), "common/resources/sco.html"),
        ("a%20b/page%20one.html", (), "a b/page one.html"),
        ("caf%C3%A9/men%C3%BC.html", (), "café/menü.html"),
        ("café/menü.html", (), "café/menü.html"),
        ("nfd/café.html", (), "nfd/cafe\u0301.html"),
        ("dir\\page.html", (), "dir/page.html"),
        ("  index.html\n", (), "index.html"),
    ],
)
def test_hrefs_resolve_to_the_package_file(href: str, bases: tuple[str | None, ...], path: str) -> None:
    assert _resolve(href, *bases).path == path


def test_query_and_fragment_are_kept_verbatim() -> None:
    resolved = _resolve("index.html?content=a%20b&x=1#page=2")
    assert (resolved.path, resolved.parameters) == ("index.html", "?content=a%20b&x=1#page=2")


def test_a_fragment_alone_is_kept() -> None:
    assert _resolve("index.html#start").parameters == "#start"


@pytest.mark.parametrize(
    ("href", "bases", "code"),
    [
        ("../index.html", (), "launch.outside_package"),
        ("dir/../../index.html", (), "launch.outside_package"),
        ("%2e%2e/%2e%2e/etc/passwd", (), "launch.outside_package"),
        ("..%2Findex.html", (), "launch.outside_package"),
        ("..\\index.html", (), "launch.outside_package"),
        ("index.html", ("../",), "launch.outside_package"),
        ("/index.html", (), "launch.outside_package"),
        ("index.html", ("/var/www/",), "launch.outside_package"),
        ("file:///etc/passwd", (), "launch.outside_package"),
        ("javascript:alert(1)", (), "launch.outside_package"),
        ("C:/course/index.html", (), "launch.outside_package"),
        ("http://example.com/index.html", (), "launch.external_url"),
        ("HTTPS://example.com/", (), "launch.external_url"),
        ("//example.com/index.html", (), "launch.external_url"),
        ("index.html", ("https://cdn.example.com/",), "launch.external_url"),
        ("missing.html", (), "launch.missing_file"),
        ("dir/", (), "launch.missing_file"),
        ("", (), "launch.invalid_href"),
        ("dir/..", (), "launch.invalid_href"),
        ("%ff.html", (), "launch.invalid_href"),
        ("index%00.html", (), "launch.invalid_href"),
    ],
)
def test_hrefs_that_leave_the_package_or_miss_are_refused(
    href: str, bases: tuple[str, ...], code: str
) -> None:
    assert _refusal(href, *bases) == code


def test_a_case_mismatch_is_refused_and_named_in_the_detail() -> None:
    with pytest.raises(HrefRefused) as refused:
        _resolve("content/start.html")
    assert refused.value.problem.code == "launch.missing_file"
    assert "Content/Start.html" in refused.value.problem.detail


def test_join_bases_lets_an_absolute_base_replace_the_chain() -> None:
    assert join_bases(["common/", "/abs/"], "x.html") == "/abs/x.html"
    assert join_bases(["a/", "b/"], "http://x/y") == "http://x/y"


@pytest.mark.parametrize(
    ("href_parameters", "item_parameters", "combined"),
    [
        ("", "", ""),
        ("", "?questions=Playing", "?questions=Playing"),
        ("", "questions=Playing", "?questions=Playing"),
        ("?content=playing", "?questions=x", "?content=playing&questions=x"),
        ("?content=playing", "&questions=x", "?content=playing&questions=x"),
        ("?a=1#top", "b=2", "?a=1&b=2#top"),
        ("", "#chapter2", "#chapter2"),
        ("#top", "#chapter2", "#top"),
    ],
)
def test_item_parameters_join_the_href_query_as_scorm_says(
    href_parameters: str, item_parameters: str, combined: str
) -> None:
    assert combine_parameters(href_parameters, item_parameters) == combined


def test_missing_hrefs_cost_a_lookup_each_not_a_pass_over_every_name(monkeypatch: pytest.MonkeyPatch) -> None:
    # A manifest can hold a hundred thousand hrefs that miss; a pass over 10 000 names for
    # each of them hung the build for hours. Count the normalisations instead of timing.
    calls = 0
    normalize = unicodedata.normalize

    def counting(form: str, value: str) -> str:
        nonlocal calls
        calls += 1
        return normalize(form, value)

    monkeypatch.setattr(hrefs.unicodedata, "normalize", counting)
    names = frozenset(f"assets/file-{number}.html" for number in range(1000))
    for number in range(200):
        with pytest.raises(HrefRefused):
            resolve(f"missing-{number}.html", names, descriptor="imsmanifest.xml", subject="item")

    assert calls <= len(names) + 2 * 200
