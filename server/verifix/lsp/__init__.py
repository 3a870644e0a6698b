"""The verifix language server (pygls 2).

server.py holds one editor window's state and registers its features; each feature owns its own
state and imports only what it uses (no two modules import each other):
  context.py        what features share: the process-wide model, queue and sandbox; settings,
                    event loop, messages and progress of one window
  status.py         verifix/status, verifix.status, loading the model
  configuration.py  the editor's settings
  commands.py       the job commands and each job's life: progress, news, apply or offer
  onsave.py         tests on save, diagnostics, background repairs, file watching
  actions.py        code actions and hover
Below them: model.py (the resident model), queue.py (the job queue), fixes.py (verified fixes
waiting to be applied), edits.py, positions.py, settings.py, protocol.py (every custom name),
testhook.py; serve.py starts it over stdio or TCP; latency_client.py is the editor side of
`verifix bench lsp`.
"""
