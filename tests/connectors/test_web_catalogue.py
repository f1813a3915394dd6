"""The demo page's suggested case (``connectors.web.catalogue.demo_example``): demo customers only."""

from __future__ import annotations

from connectors.web.catalogue import DemoExample, demo_example


def test_the_demo_page_suggests_only_example_domain_customers() -> None:
    """A real shop's customers never appear on the page: only e-mails on the RFC 2606 example domains."""
    real = {"order_number": "ORD-1", "email": "ann@gmail.com"}
    demo = {"order_number": "ORD-2", "email": "bo@Mail.Example.ORG"}
    assert demo_example([real, demo]) == DemoExample("ORD-2", "bo@Mail.Example.ORG")
    assert demo_example([real]) is None
    assert demo_example([{"order_number": "ORD-3", "email": "x@notexample.com"}, {"email": None}]) is None
    assert demo_example([]) is None
