"""A harness for end-to-end tests of the VS Code extension in a real VS Code workbench.

- install.py: Node 24 and code-server (npm packages), installed once into the user's cache.
- vsix.py: the extension built from this checkout (`npm run package`).
- codeserver.py: one code-server process (config, user settings, extensions, start, stop).
- processes.py: the processes a workbench started, found by a marker in their environment.
- browser.py: Debian's Chromium, driven by the PyPI playwright package.
- workbench.py: Workbench, what a user does and sees in it.
- readme_images.py: key screenshots of the last run, copied (smaller) into clients/vscode/images/.

tests/clients/test_vscode_workbench.py uses it; `python -m tests.clients.workbench.install`
installs ahead of a run.
"""
