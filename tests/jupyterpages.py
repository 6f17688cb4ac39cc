"""What the browser tests of JupyterLab pages share: Chromium's flags, and tabs that wait out a slow document.

JupyterLab's collaborative documents (jupyter-collaboration's docprovider) put up a modal dialog, "The document is
taking some time to load", when a notebook has not synced within 5 s, a time it does not let anyone configure.
On a busy machine that happens, and the dialog then swallows every click. A person clicks "Continue waiting";
so does every tab these tests open, whenever the dialog is in the way.
"""

from __future__ import annotations

CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def new_page(opener, **options):
    """A new tab of ``opener`` (a Playwright Browser or BrowserContext; ``options`` as its ``new_page`` takes) that
    answers the slow-loading dialog with "Continue waiting" before any action or assertion it would block."""
    page = opener.new_page(**options)
    slow = page.locator(".jp-Dialog", has_text="taking some time to load")
    page.add_locator_handler(slow, lambda dialog: dialog.get_by_role("button", name="Continue waiting").click())
    return page
