-- :VerifixGenerate, :VerifixRepair, :VerifixCancel, :VerifixStatus, :VerifixInterim.
local config = require('verifix.config')
local state = require('verifix.state')
local compat = require('verifix.compat')

local M = {}

local GENERATE, REPAIR, APPLY_FIX = 'verifix.generate', 'verifix.repair', 'verifix.applyFix'
local CANCEL, STATUS = 'verifix.cancel', 'verifix.status'
local REQUEST_CANCELLED = -32800

local request = compat.request

local function notify(msg, level)
  vim.notify('verifix: ' .. msg, level or vim.log.levels.INFO, { title = 'verifix' })
end

local function message_of(err)
  return err.message or vim.inspect(err)
end

--- The verifix client of `bufnr`, else any verifix client (for :VerifixCancel/:VerifixStatus).
function M.client(bufnr, any)
  local clients = vim.lsp.get_clients({ bufnr = bufnr, name = config.name })
  if clients[1] or not any then
    return clients[1]
  end
  return vim.lsp.get_clients({ name = config.name })[1]
end

local function no_client(bufnr)
  local ft = vim.bo[bufnr].filetype
  local msg = 'not attached to this buffer (filetype %q). Open a Python file; see :checkhealth verifix'
  notify(msg:format(ft), vim.log.levels.WARN)
end

-- Our diagnostics on the cursor line, as the server sent them: their `data` names the test.
local function diagnostics_at(client, bufnr, row)
  local ns = vim.lsp.diagnostic.get_namespace(client.id, false)
  local out = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr, { namespace = ns, lnum = row })) do
    local raw = d.user_data and d.user_data.lsp
    if raw and raw.source == 'verifix' then
      table.insert(out, raw)
    end
  end
  return out
end

--- A CodeAction carries a Command in `command`; a bare Command has a string `command`.
local function command_of(action)
  if type(action.command) == 'table' then
    return action.command
  elseif type(action.command) == 'string' then
    return action
  end
end

--- The server's code actions at the cursor (listed from the syntax tree, no model call).
local function actions_at_cursor(client, bufnr, callback)
  local win = vim.api.nvim_get_current_win()
  local params = vim.lsp.util.make_range_params(win, client.offset_encoding)
  local row = vim.api.nvim_win_get_cursor(win)[1] - 1
  params.context = { diagnostics = diagnostics_at(client, bufnr, row), triggerKind = 1 }
  request(client, 'textDocument/codeAction', params, function(err, result)
    if err then
      notify('code actions failed: ' .. message_of(err), vim.log.levels.ERROR)
      return
    end
    callback(result or {})
  end, bufnr)
end

local function evidence_summary(outcome)
  local checks = type(outcome.evidence) == 'table' and outcome.evidence.trusted_checks
  if type(checks) == 'table' and checks.total then
    return (' (%s/%s checks)'):format(checks.passed or 0, checks.total)
  end
  return ''
end

--- One message per job we started. Errors the server already showed are not repeated.
function M.report(client_id, label, err, outcome)
  local s = state.get(client_id)
  if type(outcome) == 'table' then
    -- The server leaves fields equal to their default off the wire.
    local defaults = { message = '', applied = false, reason = '', code = '' }
    outcome = vim.tbl_extend('keep', outcome, defaults)
  end
  s.outcome = { label = label, err = err, outcome = outcome }
  state.refresh(client_id) -- applying a fix uses it up: the statusline should know
  vim.api.nvim_exec_autocmds('User', {
    pattern = 'VerifixJobDone',
    modeline = false,
    data = { client_id = client_id, label = label, err = err, outcome = outcome },
  })
  if not config.options.notify then
    return
  end
  local levels = vim.log.levels
  if err then
    if err.code == REQUEST_CANCELLED then
      notify(label .. ': cancelled')
    else
      notify(label .. ': ' .. message_of(err), levels.ERROR)
    end
    return
  end
  if type(outcome) ~= 'table' then
    return
  end
  local status, message = outcome.status or '', outcome.message or ''
  if status == 'error' then
    if message == 'cancelled' then
      notify(label .. ': cancelled')
    elseif not s.seen[outcome.jobId or ''] then
      notify(label .. ': ' .. message, levels.WARN) -- refused before it became a job
    end
  elseif outcome.applied then
    notify(('%s: %s%s, applied'):format(label, status, evidence_summary(outcome)))
  elseif status == 'verified' then
    local why = outcome.reason ~= '' and outcome.reason or 'the editor declined'
    notify(('%s: verified, not applied: %s'):format(label, why), levels.WARN)
  else
    -- Not verified: the server asks whether to apply it anyway.
    local text = ('%s: %s%s, not applied: %s'):format(label, status, evidence_summary(outcome), message)
    notify(text, levels.WARN)
  end
end

--- Run a verifix command; the request stays open until its job ends.
function M.run(client, bufnr, command, label)
  local s = state.get(client.id)
  local id
  local ok, req = request(client, 'workspace/executeCommand', {
    command = command.command,
    arguments = command.arguments,
  }, function(err, outcome)
    s.requests[id] = nil
    vim.schedule(function()
      M.report(client.id, label, err, outcome)
    end)
  end, bufnr)
  if not ok then
    notify('the server is not running: ' .. config.describe_cmd(), vim.log.levels.ERROR)
    return
  end
  id = req
  s.requests[id] = { label = label, command = command.command }
  return id
end

local function target_args(bufnr, qualname)
  return { { uri = vim.uri_from_bufnr(bufnr), qualname = qualname } }
end

--- Runs `command` on `opts.qualname`, else on the server's code action for it at the cursor.
--- `first`: a command run instead when the cursor offers it; `nothing`: the warning when the
--- cursor offers neither.
local function start_job(kind, command, opts, nothing, first)
  opts = opts or {}
  local bufnr = vim.api.nvim_get_current_buf()
  local client = M.client(bufnr)
  if not client then
    return no_client(bufnr)
  end
  if opts.qualname and opts.qualname ~= '' then
    local cmd = { command = command, arguments = target_args(bufnr, opts.qualname) }
    return M.run(client, bufnr, cmd, kind .. ' ' .. opts.qualname)
  end
  actions_at_cursor(client, bufnr, function(actions)
    local offered = {}
    for _, action in ipairs(actions) do
      local cmd = command_of(action)
      if cmd and not offered[cmd.command] then
        offered[cmd.command] = cmd
      end
    end
    if first and offered[first.command] then
      return M.run(client, bufnr, offered[first.command], first.label)
    end
    local cmd = offered[command]
    if cmd then
      local args = cmd.arguments and cmd.arguments[1] or {}
      return M.run(client, bufnr, cmd, kind .. ' ' .. (args.qualname or '?'))
    end
    notify(nothing, vim.log.levels.WARN)
  end)
end

--- :VerifixGenerate [QUALNAME]: the function under the cursor, or the one named.
function M.generate(opts)
  return start_job('generate', GENERATE, opts, 'no function under the cursor')
end

--- :VerifixRepair[!] [TEST]: the test under the cursor or on a verifix diagnostic.
--- A verified fix already found on save is applied instead, unless `force` (!).
function M.repair(opts)
  opts = opts or {}
  local fix = not opts.force and { command = APPLY_FIX, label = 'apply verified fix' } or nil
  local nothing = 'no test function or verifix diagnostic under the cursor'
  return start_job('repair', REPAIR, opts, nothing, fix)
end

--- :VerifixCancel [JOB_ID]: this editor's jobs (a shared server's other windows keep theirs).
function M.cancel(opts)
  opts = opts or {}
  local client = M.client(vim.api.nvim_get_current_buf(), true)
  if not client then
    return notify('no verifix client is running', vim.log.levels.WARN)
  end
  local s = state.get(client.id)
  local ids = {}
  if opts.job_id and opts.job_id ~= '' then
    ids = { opts.job_id }
  else
    for _, job in ipairs(state.active_jobs(client.id)) do
      table.insert(ids, job.jobId)
    end
  end
  for _, job_id in ipairs(ids) do
    request(client, 'workspace/executeCommand', {
      command = CANCEL,
      arguments = { { jobId = job_id } },
    }, function(err)
      if err then
        notify('cancel failed: ' .. message_of(err), vim.log.levels.ERROR)
      end
    end)
  end
  if #ids == 0 then
    -- Cancelled before its first jobUpdate: $/cancelRequest stops the job behind the request.
    for req_id in pairs(s.requests) do
      compat.cancel_request(client, req_id)
      table.insert(ids, req_id)
    end
  end
  if #ids == 0 then
    notify('no job to cancel')
  end
  return ids
end

local function format_status(st, client)
  local lines = {}
  local message = (st.message or '') ~= '' and (' (' .. st.message .. ')') or ''
  table.insert(lines, ('model %s: %s%s'):format(st.model or '?', st.state or '?', message))
  if (st.remedy or '') ~= '' then
    table.insert(lines, 'fix: ' .. st.remedy)
  end
  local root = client.root_dir and (', root ' .. client.root_dir) or ''
  table.insert(lines, 'server: ' .. config.describe_cmd() .. root)
  for _, job in ipairs(st.jobs or {}) do
    local target = state.short_target(job.target)
    table.insert(lines, ('job %s: %s %s (%s)'):format(job.jobId, job.kind, target, job.state))
  end
  if #(st.fixes or {}) > 0 then
    local ready = '%d verified fix(es) ready: :VerifixRepair on the failing test'
    table.insert(lines, ready:format(#st.fixes))
  end
  local s = st.settings or {}
  local p, sb = s.pipeline or {}, s.sandbox or {}
  if s.model then
    local shown = {
      'candidates=' .. tostring(p.candidates),
      'resample=' .. tostring(p.resample),
      'repair=' .. tostring(p.repair),
      'timeBudget=' .. tostring(p.timeBudget) .. 's',
      'onSave=' .. tostring(s.onSave),
      'confirmEdits=' .. tostring(s.confirmEdits),
      'sandbox.timeout=' .. tostring(sb.timeout) .. 's',
      'gpuLayers=' .. tostring(s.gpuLayers),
    }
    table.insert(lines, 'settings: ' .. table.concat(shown, ' '))
  end
  return lines
end

--- :VerifixStatus: asks the server (not the cache), shows it, and passes it to `callback`.
function M.status(callback)
  local client = M.client(vim.api.nvim_get_current_buf(), true)
  if not client then
    notify('no verifix client is running; open a Python file (' .. config.describe_cmd() .. ')',
      vim.log.levels.WARN)
    return
  end
  request(client, 'workspace/executeCommand', { command = STATUS }, function(err, st)
    if err then
      notify('status failed: ' .. message_of(err), vim.log.levels.ERROR)
      return
    end
    st = state.on_status(nil, st or {}, { client_id = client.id })
    if callback then
      callback(st)
    else
      local level = st.state == 'error' and vim.log.levels.ERROR or vim.log.levels.INFO
      notify(table.concat(format_status(st, client), '\n'), level)
    end
  end)
end

--- :VerifixInterim: the newest interim answer in a read-only scratch window (never applied).
---@return integer? the scratch buffer
function M.interim()
  local i = state.latest_interim()
  if not i then
    notify('no interim answer yet: one comes when a job\'s first answer passes the checks')
    return nil
  end
  local buf = vim.api.nvim_create_buf(false, true)
  local header = ('# %s, not applied: %s'):format(i.status, i.message)
  local lines = vim.split(i.code, '\n', { plain = true })
  if lines[#lines] == '' then
    table.remove(lines)
  end
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, vim.list_extend({ header }, lines))
  vim.bo[buf].bufhidden = 'wipe'
  vim.bo[buf].filetype = 'python'
  vim.bo[buf].modifiable = false
  pcall(vim.api.nvim_buf_set_name, buf, ('verifix://interim/%s/%s'):format(i.job_id, state.short_target(i.target)))
  vim.cmd('vertical sbuffer ' .. buf)
  return buf
end

return M
