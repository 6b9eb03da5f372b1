"""axe-core finds no violations on the catalogue pages: desktop and 360 px phone, light and dark."""
from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

PAGES = ["/", "/products", "/products?q=m%C3%BCsli&in_stock=1", "/products?min_price=abc",
         "/products/bio-muesli-beere", "/shipping", "/gibt-es-nicht"]


@pytest.fixture(scope="module")
def axe():
    return Axe()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1280, 360])
def test_pages_have_no_accessibility_violations(browser, base_url, axe, scheme, width):
    context = browser.new_context(base_url=base_url, color_scheme=scheme,
                                  viewport={"width": width, "height": 800})
    page = context.new_page()
    problems = {}
    for url in PAGES:
        page.goto(url)
        results = axe.run(page)
        if results.violations_count:
            problems[url] = results.generate_report()
    context.close()
    assert not problems, "\n\n".join(f"{url}:\n{report}" for url, report in problems.items())
