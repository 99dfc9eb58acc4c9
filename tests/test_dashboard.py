"""`maskhog serve`: the JSON API of a running server, its token, and the page in a real headless
Chromium (Selenium with the system's chromedriver): it shows the seeded rate, updates when an event
is added, and logs no console error. Without Chromium these skip, except in CI (CI set)."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from maskhog.cli import main
from maskhog.events import make_event, open_sink
from maskhog.report import wilson


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def now_text(seconds=0.0):
    moment = datetime.now(timezone.utc) + timedelta(seconds=seconds)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def arrive(sink, track, label, location="entrance", camera="entrance-1", kinds=()):
    for kind in ("appeared", *kinds):
        sink.write(make_event(kind, track_id=track, label=label, score=0.9, box=(0, 0, 80, 90), camera=camera,
                              location=location))
        time.sleep(0.002)   # each event its own millisecond: `since` is strictly after


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    """Today: 2 of 3 masked at the entrance, 1 of 4 at the ward; one deny and one alert;
    yesterday's 5 bare people do not count today."""
    path = tmp_path_factory.mktemp("dashboard") / "events.db"
    sink = open_sink(str(path))
    for track in (1, 2, 3, 4, 5):
        sink.write(make_event("appeared", track_id=track, label="without_mask", score=0.9, box=(0, 0, 80, 90),
                              camera="entrance-1", location="entrance", time=now_text(-2 * 86400)))
    arrive(sink, 1, "with_mask")
    arrive(sink, 2, "with_mask")
    arrive(sink, 3, "without_mask", kinds=("deny",))
    for track in (1, 2, 3):
        arrive(sink, track, "without_mask", location="ward-3", camera="ward-3-a")
    arrive(sink, 4, "with_mask", location="ward-3", camera="ward-3-a", kinds=("alert",))
    sink.close()
    return path


class Server:
    def __init__(self, db, *args, env=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # UTC: "today" is the UTC day the events were written in, whatever the machine's zone.
        self.process = subprocess.Popen([sys.executable, "-m", "maskhog", "serve", str(db), "--port", str(self.port),
                                         "--tz", "UTC", "--refresh", "0.5", *args],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                        env={**os.environ, **(env or {})})
        end = time.monotonic() + 30
        while time.monotonic() < end:
            if self.process.poll() is not None:
                raise RuntimeError(self.process.communicate()[1])
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the dashboard did not start in 30 s")

    def get(self, path, headers=None):
        request = urllib.request.Request(self.url + path, headers=headers or {})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.headers, answer.read()

    def stop(self):
        self.process.terminate()
        self.process.communicate(timeout=10)


@pytest.fixture(scope="module")
def server(db):
    if datetime.now(timezone.utc).strftime("%H:%M") >= "23:58":
        pytest.skip("too near UTC midnight: 'today' would change during the test")
    s = Server(db)
    yield s
    s.stop()


def test_summary_counts_todays_people_per_location(server):
    status, headers, body = server.get("/api/summary")
    assert status == 200 and headers["content-type"] == "application/json"
    summary = json.loads(body)
    places = {p["location"]: p for p in summary["locations"]}
    assert (places["entrance"]["people"], places["entrance"]["with_mask"]) == (3, 2)
    assert places["entrance"]["rate"] == round(2 / 3, 4)
    assert places["entrance"]["low"] == round(wilson(2, 3)[0], 4)
    assert (places["ward-3"]["people"], places["ward-3"]["rate"]) == (4, 0.25)
    assert summary["total"]["people"] == 7 and summary["tz"] == "UTC"
    assert [e["event"] for e in summary["recent"]] == ["deny", "alert"]


def test_events_since_a_time_and_of_some_kinds(server):
    everything = json.loads(server.get("/api/events?limit=1000")[2])
    assert len(everything) == 5 + 7 + 2
    middle = everything[6]["time"]
    later = json.loads(server.get(f"/api/events?since={middle}")[2])
    assert all(e["time"] > middle for e in later) and later[-1] == everything[-1]
    alerts = json.loads(server.get("/api/events?kind=alert")[2])
    assert [(e["event"], e["location"]) for e in alerts] == [("alert", "ward-3")]
    with pytest.raises(urllib.error.HTTPError) as bad:
        server.get("/api/events?since=yesterday-ish")
    assert bad.value.code == 400 and "is not a time" in json.loads(bad.value.read())["error"]
    bad.value.close()


def test_plots_are_pngs(server):
    for name in ("over_time", "heat_map", "class_counts"):
        status, headers, body = server.get(f"/plots/{name}.png")
        assert headers["content-type"] == "image/png" and body[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_token_is_needed_on_every_request_when_given(db):
    s = Server(db, env={"MASKHOG_SERVE_TOKEN": "s3cret"})
    try:
        for path in ("/", "/api/summary", "/plots/heat_map.png"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                s.get(path)
            assert refused.value.code == 401
            refused.value.close()
        with pytest.raises(urllib.error.HTTPError) as wrong:
            s.get("/api/summary", {"Authorization": "Bearer guess"})
        assert wrong.value.code == 401
        wrong.value.close()
        assert s.get("/api/summary", {"Authorization": "Bearer s3cret"})[0] == 200
        status, headers, _ = s.get("/?token=s3cret")
        assert status == 200 and "maskhog_token=s3cret" in headers["set-cookie"]
        assert "httponly" in headers["set-cookie"].lower()
    finally:
        s.stop()


def test_other_machines_need_a_token_and_bad_input_is_said(db, tmp_path):
    result = CliRunner().invoke(main, ["serve", str(db), "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "give a token (--token or MASKHOG_SERVE_TOKEN)" in result.stderr
    shown = CliRunner().invoke(main, ["config", "show", "serve"], env={"MASKHOG_SERVE_TOKEN": "s3cret"})
    assert 'token = "***"' in shown.stdout and "s3cret" not in shown.stdout
    result = CliRunner().invoke(main, ["serve", str(tmp_path / "none.db")])
    assert result.exit_code == 1 and "no such events database" in result.stderr


# ----------------------------------------------------------------- browser --

def chromium():
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (browser and driver):
        message = "no chromium and chromedriver here: apt-get install chromium chromium-driver"
        if os.environ.get("CI"):
            pytest.fail(f"in CI, {message}")
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


def test_the_page_shows_the_rate_and_updates_when_an_event_is_added(db, server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser = chromium()
    try:
        browser.get(server.url + "/")
        entrance = '.place[data-location="entrance"] .rate'
        wait = WebDriverWait(browser, 10)
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, entrance))
        assert browser.find_element(By.CSS_SELECTOR, entrance).text == "66.7%"
        assert browser.find_element(By.ID, "total-people").text == "7"
        assert "n = 3" in browser.find_element(By.CSS_SELECTOR, '.place[data-location="entrance"] .small').text
        # The charts drew (an image that failed has no natural width).
        wait.until(lambda b: all(b.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img)
                                 for img in b.find_elements(By.CSS_SELECTOR, "img[id^=plot-]")))
        # `live` writes one more masked person at the entrance: 3 of 4.
        sink = open_sink(str(db))
        arrive(sink, 7, "with_mask")
        sink.close()
        wait.until(lambda b: b.find_element(By.CSS_SELECTOR, entrance).text == "75.0%")
        assert browser.find_element(By.ID, "total-people").text == "8"
        errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
        assert errors == []
    finally:
        browser.quit()
