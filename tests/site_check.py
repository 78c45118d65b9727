"""Open the built documentation site in headless Chromium and check that three kinds of page render.

    python tests/site_check.py build/site          # make docs runs it after mkdocs build

Serves the site on a free localhost port, asks Chromium for the DOM each page has after its
scripts ran (`--dump-dom`), and checks the home page, a tutorial (a rendered notebook with its
committed outputs) and an API page (generated from docstrings) for their content. Exits 1 naming
the page and the missing text.
"""

import argparse
import functools
import http.server
import shutil
import subprocess
import sys
import tempfile
import threading

# page -> texts its rendered DOM must hold
PAGES = {
    "": ["Reconstruct clean images from noisy ones", "Getting started"],
    "tutorials/01_pca/": ["jp-Notebook", "jp-OutputArea", "PCA"],
    "reference/models/": ["tfvae.models.VAE", "Parameters", "encode"],
}
CHROMIUM_FLAGS = [  # no first-run work, no network beyond localhost
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=5000",
]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # the check prints one line per page instead
        pass


def serve(folder):
    """Serve `folder` on a free localhost port in a daemon thread; returns the server."""
    handler = functools.partial(QuietHandler, directory=folder)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def rendered_dom(browser, url):
    with tempfile.TemporaryDirectory() as profile:
        command = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("site", help="the built site (mkdocs build's site_dir)")
    parser.add_argument("--browser", default=shutil.which("chromium") or "chromium")
    args = parser.parse_args(argv)
    server = serve(args.site)
    failures = []
    for page, texts in PAGES.items():
        url = f"http://127.0.0.1:{server.server_port}/{page}"
        dom = rendered_dom(args.browser, url)
        missing = [text for text in texts if text not in dom]
        print(f"{url}: {len(dom):,} characters of DOM" + (f", missing {missing}" if missing else ", content found"))
        if missing:
            failures.append(page)
    server.shutdown()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
