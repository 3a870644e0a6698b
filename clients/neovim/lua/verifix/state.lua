-- What each verifix client has told us: model status, jobs, progress. Feeds the statusline.
local compat = require('verifix.compat')

local M = {}

---@class verifix.ClientState
---@field status table? last verifix/status
---@field jobs table<string, table> active jobs by id (latest verifix/jobUpdate)
---@field seen table<string, boolean> every job id this client reported
---@field last table? last finished job update
---@field progress table<string|integer, table> open $/progress by token
---@field requests table<integer, table> our pending verifix commands by request id
---@field interim table? the last interim answer: { job_id, kind, target, status, code, message }

---@type table<integer, verifix.ClientState>
M.clients = {}

---@return verifix.ClientState
function M.get(client_id)
  local s = M.clients[client_id]
  if not s then
    s = { jobs = {}, seen = {}, progress = {}, requests = {} }
    M.clients[client_id] = s
  end
  return s
end

local JOB_DEFAULTS = {
  phase = '',
  percent = 0,
  candidates = 0,
  checksPassed = 0,
  checksTotal = 0,
  message = '',
  position = 0,
}

local function redraw()
  vim.schedule(function()
    pcall(vim.cmd.redrawstatus)
  end)
end

-- At once when allowed, so listeners see the state this event made (not a later one).
local function fire(pattern, data)
  local function exec()
    vim.api.nvim_exec_autocmds('User', { pattern = pattern, modeline = false, data = data })
  end
  if vim.in_fast_event() then
    vim.schedule(exec)
  else
    exec()
  end
end

-- The server leaves fields equal to their default off the wire.
function M.on_job_update(_, update, ctx)
  if type(update) ~= 'table' or not update.jobId then
    return
  end
  update = vim.tbl_extend('keep', update, JOB_DEFAULTS)
  local s = M.get(ctx.client_id)
  s.seen[update.jobId] = true
  if update.state == 'finished' or update.state == 'cancelled' then
    s.jobs[update.jobId] = nil
    s.last = update
    -- A job's end may add or use up a verified fix; verifix/status does not say so by itself.
    vim.schedule(function()
      M.refresh(ctx.client_id)
    end)
  else
    s.jobs[update.jobId] = update
  end
  redraw()
  fire('VerifixJobUpdate', { client_id = ctx.client_id, update = update })
  if type(update.interim) == 'table' and type(update.interim.code) == 'string' then
    M.offer(ctx.client_id, update)
  end
end

local offers = 0 -- interim answers seen, to find the newest

-- An answer before the job's end: shown on request (:VerifixInterim), never applied.
function M.offer(client_id, update)
  local i = update.interim
  offers = offers + 1
  M.get(client_id).interim = {
    seq = offers,
    job_id = update.jobId,
    kind = update.kind,
    target = update.target,
    status = i.status or 'plausible',
    code = i.code,
    message = i.message or '',
  }
  local text = ('verifix: %s %s: a %s answer so far (%s); :VerifixInterim shows it, only the final answer is applied'):format(
    update.kind,
    M.short_target(update.target),
    i.status or 'plausible',
    i.message or ''
  )
  vim.schedule(function()
    vim.notify(text, vim.log.levels.INFO, { title = 'verifix' })
  end)
  fire('VerifixInterim', { client_id = client_id, update = update })
end

---@return table? the newest interim answer of any verifix client
function M.latest_interim()
  local latest
  for _, s in pairs(M.clients) do
    if s.interim and (not latest or s.interim.seq > latest.seq) then
      latest = s.interim
    end
  end
  return latest
end

function M.on_status(_, status, ctx)
  if type(status) ~= 'table' then
    return status
  end
  status = vim.tbl_extend('keep', status, { message = '', remedy = '', jobs = {}, fixes = {} })
  M.get(ctx.client_id).status = status
  redraw()
  fire('VerifixStatus', { client_id = ctx.client_id, status = status })
  return status
end

--- Ask the server for its status (the cache feeds the statusline).
function M.refresh(client_id)
  local client = vim.lsp.get_client_by_id(client_id)
  if not client or compat.is_stopped(client) then
    return
  end
  local params = { command = 'verifix.status' }
  local function handler(err, status)
    if not err and status then
      M.on_status(nil, status, { client_id = client_id })
    end
  end
  compat.request(client, 'workspace/executeCommand', params, handler)
end

--- LspProgress autocmd: keep the open progress of verifix clients (model loading, jobs).
function M.on_progress(args)
  local data = args.data or {}
  local client = vim.lsp.get_client_by_id(data.client_id or -1)
  if not client or client.name ~= 'verifix' or not data.params then
    return
  end
  local token, value = data.params.token, data.params.value
  if type(value) ~= 'table' then
    return
  end
  local s = M.get(client.id)
  if value.kind == 'end' then
    s.progress[token] = nil
  else
    local old = s.progress[token] or {}
    s.progress[token] = {
      title = value.title or old.title,
      message = value.message or old.message,
      percentage = value.percentage or old.percentage,
    }
  end
  redraw()
end

---@return table[] active jobs, running first, then by queue position
function M.active_jobs(client_id)
  local s = M.clients[client_id]
  local jobs = {}
  for _, job in pairs(s and s.jobs or {}) do
    table.insert(jobs, job)
  end
  table.sort(jobs, function(a, b)
    if (a.state == 'running') ~= (b.state == 'running') then
      return a.state == 'running'
    end
    return (a.position or 0) < (b.position or 0)
  end)
  return jobs
end

--- "FILE::QUALNAME" -> "QUALNAME"
function M.short_target(target)
  return (target or ''):match('::(.*)$') or target or ''
end

return M
