"""End to end in headless Chromium: `mortar user create`, `mortar web` and `mortar worker` as real processes
sharing one data folder (SQLite catalog, embedded broker); a browser logs in, defines a crawler over CSV
files with the form, runs it, watches the run succeed and finds the table it made; and writes a job in the
script editor, runs it on the worker and follows its live log to SUCCEEDED.

Needs Debian's chromium at /usr/bin/chromium and the `playwright` Python package (never `playwright install`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.crawler_data import csv_text, write_files

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parent.parent
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
PASSWORD = "e2e password 1"


def _need_browser():
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as e:
        if os.environ.get("CI"):
            pytest.fail(f"playwright is not installed: {e}")
        pytest.skip(f"playwright is not installed: {e}")
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
        pytest.skip(f"{CHROMIUM} is missing")


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer:\n{log.read_text()}")


@pytest.fixture
def mortar(tmp_path):
    """`mortar web` and `mortar worker` over one data folder, with an admin made by `mortar user create`."""
    data = tmp_path / "data"
    # no warm Spark driver: the jobs here are pythonshell ones
    env = {**os.environ, "MORTAR_DATA_DIR": str(data), "MORTAR_JOB_WARM_POOL": "0"}
    for key in ("MORTAR_DATABASE_URL", "MORTAR_BROKER_URL", "MORTAR_WAREHOUSE", "MORTAR_CONFIG"):
        env.pop(key, None)
    made = subprocess.run([sys.executable, "-m", "mortar.web_cli", "user", "create", "boss", "--role", "admin",
                           "--password-stdin"], input=PASSWORD + "\n", env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "user boss created (admin)" in made.stdout
    port = free_port()
    procs, logs = [], []
    try:
        for name, cmd in (("web", ["mortar.web_cli", "web", "--web-port", str(port)]),
                          ("worker", ["mortar.cli", "worker", "--concurrency", "1"])):  # fmt: skip
            log = tmp_path / f"{name}.log"
            out = open(log, "wb")
            logs.append(out)
            procs.append(subprocess.Popen([sys.executable, "-m", *cmd], env=env, cwd=ROOT, stdout=out,
                                          stderr=subprocess.STDOUT))  # fmt: skip
        _wait_http(f"http://127.0.0.1:{port}/health", procs[0], tmp_path / "web.log")
        yield f"http://127.0.0.1:{port}", tmp_path
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        for out in logs:
            out.close()


@pytest.mark.timeout(600)
def test_log_in_define_a_crawler_run_it_and_see_the_table(mortar):
    _need_browser()
    from playwright.sync_api import expect, sync_playwright

    base, tmp = mortar
    landing = tmp / "landing" / "orders"
    write_files(landing, {f"dt=2024-05-0{d}/part-0.csv": csv_text(["id", "amount", "city"], [[d, d * 1.5, "Oslo"], [d + 10, 2.0, "Rome"]])
                          for d in (1, 2, 3)})  # fmt: skip

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page()
        page.set_default_timeout(30_000)

        # not logged in: the console sends us to the login page
        page.goto(f"{base}/crawlers")
        expect(page.locator("h1")).to_have_text("Log in to Mortar")
        page.fill("#username", "boss")
        page.fill("#password", "not the password")
        page.click("button[type=submit]")
        expect(page.locator(".error")).to_contain_text("Wrong user name or password")
        page.fill("#username", "boss")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator("#whoami")).to_have_text("boss (admin)")
        expect(page.locator("h1")).to_have_text("Crawlers")  # back where we wanted to go

        # define the crawler with the form; the cron preview comes live from the API
        page.click("text=Define a crawler")
        page.fill("#name", "landing")
        page.fill("#targets", str(landing))
        page.fill("#database", "e2e")
        page.fill("#schedule", "30 6 * * 1")
        expect(page.locator("#schedule-preview")).to_contain_text("Next: ")
        expect(page.locator("#schedule-preview")).to_contain_text("T06:30:00Z")
        page.click("#save")
        expect(page.locator("h1")).to_have_text("Crawler landing")
        expect(page.locator(".flash")).to_contain_text("Crawler landing created.")

        # run it on the worker and watch the run list until it has ended
        page.click("#run")
        expect(page.locator(".flash").first).to_contain_text("queued")
        state = page.locator("#runs .state").first
        deadline = time.time() + 240
        while time.time() < deadline:
            if state.count() and state.inner_text() in ("SUCCEEDED", "FAILED", "CANCELLED"):
                break
            time.sleep(1)
            page.reload()
        assert state.inner_text() == "SUCCEEDED", page.locator("#runs").inner_text()
        row = page.locator("#runs tr").nth(1).inner_text()
        assert "\t1\t0\t0\t3\t3\t0\t" in row  # 1 table created, 3 partitions added, 3 files read
        expect(page.locator("svg.chart rect.run.succeeded")).to_have_count(1)

        # the table is in the catalog, with its schema and partitions
        page.click("header >> text=Databases")
        page.click("a:text-is('e2e')")
        page.click("a:text-is('orders')")
        expect(page.locator("h1")).to_have_text("Table e2e.orders")
        schema = page.locator("#schema").inner_text()
        for column in ("id", "amount", "city", "dt"):
            assert column in schema
        page.click(".tabs >> text=Partitions")
        expect(page.locator("#partitions tr")).to_have_count(4)
        assert "dt=2024-05-03" in page.locator("#partitions").inner_text()
        browser.close()


def _log_in(page, base: str, path: str) -> None:
    page.goto(f"{base}{path}")
    page.fill("#username", "boss")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.locator("#whoami").wait_for()


@pytest.mark.timeout(300)
def test_write_a_job_in_the_editor_run_it_and_follow_its_log(mortar):
    _need_browser()
    from playwright.sync_api import expect, sync_playwright

    base, _ = mortar
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page()
        page.set_default_timeout(30_000)
        _log_in(page, base, "/jobs")
        expect(page.locator("h1")).to_have_text("Jobs")

        # define the job: typed into the editor, which indents after a colon and dedents with Shift-Tab
        page.click("#new-job")
        page.fill("#name", "hello")
        page.select_option("#type", "pythonshell")
        page.click("#script")
        page.keyboard.type("import sys\nimport time\n# three steps, a little apart\nfor i in range(3):\n")
        page.keyboard.type("print(f'step {i}', flush=True)\ntime.sleep(0.5)\n")
        page.keyboard.press("Shift+Tab")
        page.keyboard.type("print('greeting:', sys.argv[-1])")
        expect(page.locator(".editor-highlight .tok-keyword").first).to_have_text("import")
        expect(page.locator(".editor-gutter")).to_contain_text("7")
        script = page.input_value("#script")
        assert script.splitlines()[3:6] == ["for i in range(3):", "    print(f'step {i}', flush=True)",
                                            "    time.sleep(0.5)"]  # fmt: skip
        page.click("#save")
        expect(page.locator("h1")).to_have_text("Job hello")
        expect(page.locator("#script .tok-comment")).to_have_text("# three steps, a little apart")

        # run it with an argument: the run page follows the log live until the run has ended
        page.fill("#arguments", "--greeting=hello-from-e2e")
        page.click("#run")
        expect(page.locator("h1")).to_contain_text("of job hello")
        expect(page.locator("#log")).to_contain_text("greeting: hello-from-e2e", timeout=120_000)
        expect(page.locator("#run-state")).to_have_text("SUCCEEDED", timeout=30_000)
        expect(page.locator("#live")).to_have_text("The run has ended.")
        log = page.locator("#log").inner_text()
        assert log.index("step 0") < log.index("step 1") < log.index("step 2") < log.index("greeting:")

        # the job page lists the run and charts it
        page.click(".muted >> text=hello")
        expect(page.locator("#runs .state").first).to_have_text("SUCCEEDED")
        expect(page.locator("svg.chart rect.run.succeeded")).to_have_count(1)
        browser.close()


@pytest.mark.timeout(300)
def test_the_api_answers_at_its_root_and_its_docs_page_sends_requests(mortar):
    """`mortar up` advertises /api/v1/: it answers with where to start; /api/docs tries every operation."""
    _need_browser()
    import json

    from playwright.sync_api import expect, sync_playwright

    base, tmp = mortar
    with urllib.request.urlopen(f"{base}/api/v1/", timeout=10) as r:
        index = json.load(r)
    assert (index["openapi"], index["docs"]) == ("/api/v1/openapi.json", "/api/docs")
    assert "/api/v1/databases" in index["lists"] and "/api/v1/jobs" in index["lists"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page()
        page.set_default_timeout(30_000)
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{base}/api/docs")  # open: it holds no data
        expect(page.locator("h1")).to_have_text("JSON API")
        page.click("text=log in")
        page.fill("#username", "boss")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator("h1")).to_have_text("JSON API")  # back on the docs, logged in
        # a read: the list of databases, with the session
        op = page.locator("details#get--databases")
        op.locator("summary").click()
        op.locator("input[name=q]").fill("def")
        op.locator("button[type=submit]").click()
        answer = op.locator(".api-answer")
        expect(answer).to_contain_text("200 OK")
        assert json.loads(answer.inner_text().split("\n", 1)[1])["items"][0]["name"] == "default"
        # a change: create a database, with the session's CSRF token; then a bad one is refused clearly
        op = page.locator("details#post--databases")
        op.locator("summary").click()
        op.locator("textarea").fill('{"name": "from_docs"}')
        op.locator("button[type=submit]").click()
        expect(op.locator(".api-answer")).to_contain_text("201 CREATED")
        op.locator("textarea").fill('{"name": "bad name!"}')
        op.locator("button[type=submit]").click()
        expect(op.locator(".api-answer")).to_contain_text("400 BAD REQUEST")
        shot = tmp / "api-docs.png"
        page.screenshot(path=str(shot), full_page=False)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
        assert not [e for e in errors if "Content Security Policy" in e], errors
        browser.close()
