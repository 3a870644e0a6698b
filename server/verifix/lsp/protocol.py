"""Every custom name and payload of the verifix language server, typed, in one module.

Clients (VS Code extension, Neovim plugin) and tests import these names instead of spelling
them. Payload attributes are camelCase because they are the JSON keys on the wire.

Commands (workspace/executeCommand, one argument object each):
  verifix.generate  GenerateArgs  -> JobOutcome  (the request stays open until the job ends,
                                                  so $/cancelRequest on it cancels the job)
  verifix.repair    RepairArgs    -> JobOutcome
  verifix.applyFix  ApplyFixArgs  -> JobOutcome
  verifix.cancel    CancelArgs    -> list of cancelled job ids (no jobId: every job)
  verifix.status    (none)        -> ServerStatus
Notifications (server -> client):
  verifix/status     ServerStatus  model state: loading -> ready | error (with the remedy)
  verifix/jobUpdate  JobUpdate     queued, running (phase, candidates, checks), finished;
                                  `interim`: an answer to show (never to apply) while it runs

Test hook (not for users): when the environment variable VERIFIX_TEST_SCRIPTED_ENGINE names a
JSON file, the server uses a ScriptedEngine instead of loading a model. See
verifix.lsp.testhook for the file's format.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

# -- names ---------------------------------------------------------------------------------
GENERATE = "verifix.generate"
REPAIR = "verifix.repair"
APPLY_FIX = "verifix.applyFix"
CANCEL = "verifix.cancel"
STATUS = "verifix.status"
COMMANDS = (GENERATE, REPAIR, APPLY_FIX, CANCEL, STATUS)

STATUS_NOTIFICATION = "verifix/status"
JOB_UPDATE_NOTIFICATION = "verifix/jobUpdate"

TOKEN_OPTION = "verifixToken"  # initializationOptions key: the token of `serve --tcp`
CONFIG_SECTION = "verifix"  # workspace/configuration section and didChangeConfiguration key
DIAGNOSTIC_SOURCE = "verifix"
DIAGNOSTIC_CODE_TEST_FAILED = "test-failed"
# Keys of a test-failed diagnostic's `data`; clients send it back in textDocument/codeAction.
DIAGNOSTIC_DATA_NODE_ID = "nodeId"  # the pytest node id
DIAGNOSTIC_DATA_TEST = "testQualname"  # the test function, e.g. "test_add" or "TestX.test_y"
ANNOTATION_ID = "verifix"

TITLE_GENERATE = "Generate verified implementation"
TITLE_REPAIR = "Repair failing test"
TITLE_APPLY_FIX = "Apply verified fix"

TEST_ENGINE_ENV = "VERIFIX_TEST_SCRIPTED_ENGINE"

ModelState = Literal["loading", "ready", "error"]
JobState = Literal["queued", "running", "finished", "cancelled"]


# -- command arguments ---------------------------------------------------------------------
@attrs.define
class GenerateArgs:
    uri: str
    qualname: str  # "f", "Class.method"


@attrs.define
class RepairArgs:
    uri: str  # the test file
    qualname: str  # the test function, e.g. "test_add" or "TestX.test_y"


@attrs.define
class ApplyFixArgs:
    fixId: str


@attrs.define
class CancelArgs:
    jobId: str | None = None


# -- results and notifications ---------------------------------------------------------------
@attrs.define
class JobInfo:
    jobId: str
    kind: str  # generate | repair
    target: str  # FILE::QUALNAME
    state: JobState


@attrs.define
class ServerStatus:
    state: ModelState
    model: str
    message: str = ""
    remedy: str = ""
    jobs: list[JobInfo] = attrs.Factory(list)
    fixes: list[str] = attrs.Factory(list)  # ids of verified fixes ready to apply
    settings: dict[str, Any] = attrs.Factory(dict)


@attrs.define
class InterimAnswer:
    status: str  # plausible: it passes the trusted checks, agreement is still running
    code: str
    message: str


@attrs.define
class JobUpdate:
    jobId: str
    kind: str
    target: str
    state: JobState
    phase: str = ""
    percent: int = 0
    candidates: int = 0
    checksPassed: int = 0
    checksTotal: int = 0
    message: str = ""
    position: int = 0  # place in the queue while queued (1 = next)
    status: str | None = None  # verified | plausible | unverified | error, once finished
    evidence: dict[str, Any] | None = None
    applied: bool | None = None
    interim: InterimAnswer | None = None  # once, when the job has an answer before its end


@attrs.define
class JobOutcome:
    jobId: str
    status: str  # verified | plausible | unverified | error
    message: str
    applied: bool = False
    reason: str = ""  # why it was not applied
    code: str = ""
    evidence: dict[str, Any] | None = None
    fixId: str | None = None
