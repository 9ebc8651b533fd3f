#!/usr/bin/env python3
"""Drives the review UI in headless Chromium, as a reviewer would.

Usage: review.py BASE_URL TOKEN NAME [SCREENSHOT.png]

Logs in by pasting a personal token into the login form, checks the page says who is signed
in (NAME), checks the review queue, opens the first change waiting for review, types a note,
clicks Approve, checks the page confirms it under NAME, then checks the audit log shows the
approval by NAME established through a browser session of a token. Prints
"OK" on success; exits 1 with the reason otherwise. Exit 77 when chromium, its driver or
selenium is missing (the caller skips).
"""
import os
import shutil
import sys

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError as error:
    print(f"SKIP: selenium is not installed ({error}); pip install selenium", file=sys.stderr)
    sys.exit(77)


def find(*names):
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    return None


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    base, token, reviewer = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
    shot = sys.argv[4] if len(sys.argv) > 4 else None
    browser = find("chromium", "chromium-browser", "google-chrome")
    driver_path = find("chromedriver")
    if not browser or not driver_path:
        print("SKIP: chromium or chromedriver not found (apt-get install chromium chromium-driver)", file=sys.stderr)
        return 77

    options = Options()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1600"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        wait = WebDriverWait(driver, 20)
        driver.get(f"{base}/")
        wait.until(EC.presence_of_element_located((By.ID, "login")))
        driver.find_element(By.ID, "token").send_keys(token)
        driver.find_element(By.ID, "login-button").click()
        wait.until(EC.presence_of_element_located((By.ID, "queue")))
        signed = driver.find_element(By.ID, "signed-in").text
        if reviewer not in signed:
            raise AssertionError(f"the header does not say who is signed in: {signed!r}")
        if "Review queue" not in driver.find_element(By.TAG_NAME, "h1").text:
            raise AssertionError("the first page is not the review queue")
        link = driver.find_element(By.CSS_SELECTOR, "a.review-link")
        title = link.text
        link.click()
        wait.until(EC.presence_of_element_located((By.ID, "review")))
        if title not in driver.find_element(By.TAG_NAME, "h1").text:
            raise AssertionError(f"the candidate page is not about {title!r}")
        if not driver.find_elements(By.CSS_SELECTOR, "pre.diff span.add"):
            raise AssertionError("no coloured diff on the candidate page")
        if not driver.find_elements(By.CSS_SELECTOR, "svg.samples circle.candidate"):
            raise AssertionError("no samples chart on the candidate page")
        if driver.find_elements(By.ID, "as"):
            raise AssertionError("the review form still asks for a name")
        driver.find_element(By.ID, "note").send_keys("checked in a real browser")
        driver.find_element(By.CSS_SELECTOR, "button[value=approve]").click()
        wait.until(EC.presence_of_element_located((By.ID, "flash")))
        if "Approved" not in driver.find_element(By.ID, "flash").text:
            raise AssertionError("no confirmation after approving")
        decisions = driver.find_element(By.ID, "decisions").text
        if reviewer not in decisions:
            raise AssertionError(f"the decision does not name the reviewer: {decisions!r}")
        if shot:
            driver.save_screenshot(shot)
        driver.get(f"{base}/audit")
        wait.until(EC.presence_of_element_located((By.ID, "audit")))
        rows = [row for row in driver.find_elements(By.CSS_SELECTOR, "#audit tr") if "approval" in row.text]
        if not rows:
            raise AssertionError("the audit log shows no approval")
        actor = rows[0].find_element(By.CSS_SELECTOR, "td.actor").text
        established = rows[0].find_element(By.CSS_SELECTOR, "td.established").text
        if actor != reviewer or "browser session of token" not in established:
            raise AssertionError(f"the audit shows the approval by {actor!r} ({established!r}), not by {reviewer!r} through a session")
        driver.find_element(By.ID, "logout").click()
        wait.until(EC.presence_of_element_located((By.ID, "login")))
        driver.get(f"{base}/")
        if not driver.find_elements(By.ID, "login"):
            raise AssertionError("after logging out the queue still opens")
        print("OK")
        return 0
    finally:
        driver.quit()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as error:  # the Swift test shows this
        print(f"FAIL: {type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)
