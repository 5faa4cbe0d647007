"""Fixtures for driving the app in Debian's Chromium through Playwright.

``live_server`` serves the test app over HTTP on a free port. ``browse``
opens browser contexts on it and watches every page: requests that leave the
live server are aborted and recorded, Content-Security-Policy violations and
uncaught script errors are recorded, and ``browse.audit(page)`` runs axe-core
on the page as it is now. The test ends with ``browse.assert_clean()``, which
fails on any of those and on any page that was visited but never audited.
"""

import threading
from collections import Counter
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Accessibility problems that fail a test; moderate and minor ones are kept
#: in ``Browsing.minor_axe`` for whoever wants to look.
FAILING_IMPACTS = ("serious", "critical")
#: How long an action or an expectation may wait, in milliseconds.
TIMEOUT_MS = 10_000

#: Registered once per page before any of its scripts: reports each
#: ``securitypolicyviolation`` event to Python through an exposed binding.
#: Nothing is added to the document itself.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__ledgerCspViolation({
    directive: event.violatedDirective,
    blocked: event.blockedURI,
    source: event.sourceFile,
    line: event.lineNumber,
    sample: event.sample,
  });
});
"""


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Launch Debian's Chromium; a missing browser fails, it never skips."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def base_url():
    """Replace pytest-playwright's ``base_url`` fixture (unused: contexts get the
    live server's URL).

    pytest-playwright 0.10 defines it as a method of a plugin class, which
    pytest 9 deprecates with a warning, an error under ``filterwarnings``.
    """
    return None


@pytest.fixture
def live_server(app):
    """Serve ``app`` on 127.0.0.1 in a daemon thread; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def phone(playwright):
    """Context options of a phone: small touch screen, mobile Chrome on Android."""
    return {**playwright.devices["Pixel 7"], "timezone_id": "Europe/Berlin"}


@pytest.fixture
def desktop(browser):
    """Context options of a laptop-sized desktop window: Chrome on Linux."""
    return {
        "viewport": {"width": 1280, "height": 800},
        "user_agent": (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"Chrome/{browser.version} Safari/537.36"
        ),
        "timezone_id": "Europe/Berlin",
        "color_scheme": "light",
    }


class Browsing:
    """Browser contexts on the live server, with everything they did wrong."""

    def __init__(self, base_url, new_context):
        self.base_url = base_url
        self._new_context = new_context
        self._axe = Axe()
        self.foreign_requests = []  # URLs outside the live server
        self.csp_events = []  # securitypolicyviolation events
        self.csp_console = []  # the browser's console messages about the CSP
        self.page_errors = []  # uncaught exceptions in the page's scripts
        self.axe_violations = []  # serious and critical
        self.minor_axe = []  # moderate and minor
        self.visited = set()  # paths the pages navigated to
        self.audited = set()  # paths audit() ran on
        self.asserted = False

    # Contexts and pages

    def new_page(self, **context_args):
        """Open a fresh context (own cookies) on the live server and a page in it."""
        context = self._new_context(base_url=self.base_url, **context_args)
        context.set_default_timeout(TIMEOUT_MS)
        context.route("**/*", self._only_live_server)
        context.expose_binding("__ledgerCspViolation", self._on_csp_event)
        context.add_init_script(CSP_LISTENER)
        page = context.new_page()
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.page_errors.append((page.url, str(error))))
        page.on("framenavigated", self._on_navigated)
        return page

    def _only_live_server(self, route):
        url = route.request.url
        if url.startswith("data:") or url == self.base_url or url.startswith(self.base_url + "/"):
            route.continue_()
        else:
            self.foreign_requests.append(url)
            route.abort("blockedbyclient")

    def _on_csp_event(self, source, detail):
        self.csp_events.append((source["frame"].url, detail))

    def _on_console(self, message):
        # Older Chromium says "Refused to apply inline style ...", newer
        # "Applying inline style violates the following Content Security Policy
        # directive ...": match both.
        text = message.text
        if text.startswith("Refused to") or "Content Security Policy" in text:
            self.csp_console.append((message.page.url if message.page else "?", message.text))

    def _on_navigated(self, frame):
        if frame.parent_frame is None and frame.url.startswith(self.base_url):
            self.visited.add(self.path(frame.url))

    def path(self, url):
        return urlsplit(url).path or "/"

    # Checks

    def audit(self, page):
        """Run axe-core on the page as it is now and record what it finds."""
        page.wait_for_load_state("load")
        url = page.url
        results = self._axe.run(page)
        for violation in results.response["violations"]:
            entry = (url, violation)
            if violation.get("impact") in FAILING_IMPACTS:
                self.axe_violations.append(entry)
            else:
                self.minor_axe.append(entry)
        self.audited.add(self.path(url))
        return results

    def problems(self):
        """Everything wrong so far, as readable lines (empty when all is well)."""
        lines = []
        for url in self.foreign_requests:
            lines.append(f"request outside the live server (aborted): {url}")
        for url, detail in self.csp_events:
            lines.append(
                f"CSP violation on {url}: {detail.get('directive')} blocked "
                f"{detail.get('blocked') or 'inline code'} "
                f"(source {detail.get('source')}:{detail.get('line')}, "
                f"sample {detail.get('sample')!r})"
            )
        for url, text in self.csp_console:
            lines.append(f"CSP console message on {url}: {text}")
        for url, error in self.page_errors:
            lines.append(f"uncaught script error on {url}: {error}")
        for url, violation in self.axe_violations:
            targets = ", ".join(
                " ".join(map(str, node.get("target", []))) for node in violation["nodes"]
            )
            lines.append(
                f"axe {violation['impact']} {violation['id']} on {url}: "
                f"{violation['help']} ({violation.get('helpUrl', '')}); nodes: {targets}"
            )
        for path in sorted(self.visited - self.audited):
            lines.append(f"page visited but never audited with axe: {path}")
        # The same problem on the same page, seen again, is listed once.
        counts = Counter(lines)
        return [
            line if counts[line] == 1 else f"{line} (seen {counts[line]} times)" for line in counts
        ]

    def assert_clean(self):
        self.asserted = True
        problems = self.problems()
        assert not problems, "The browser saw problems:\n  " + "\n  ".join(problems)


CALL_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    return report


@pytest.fixture
def browse(request, live_server, new_context):
    """Open watched pages on the live server; fail on what they did wrong.

    A test that passed without calling ``assert_clean()`` is checked here; a
    test that failed only gets the problems printed, so its own failure stays
    the one reported.
    """
    browsing = Browsing(live_server, new_context)
    yield browsing
    if browsing.asserted:
        return
    if request.node.stash.get(CALL_FAILED, True):
        problems = browsing.problems()
        if problems:
            print("The browser also saw:\n  " + "\n  ".join(problems))
    else:
        browsing.assert_clean()
