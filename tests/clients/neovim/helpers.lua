-- Shared by the headless test scripts (nvim --headless --clean -l SCRIPT). The pytest driver
-- passes paths through the environment and reads the JSON record written by H.finish().
local H = {}

H.env = {
  plugin = assert(os.getenv('VERIFIX_NVIM_PLUGIN'), 'VERIFIX_NVIM_PLUGIN'),
  project = assert(os.getenv('VERIFIX_NVIM_PROJECT'), 'VERIFIX_NVIM_PROJECT'),
  python = assert(os.getenv('VERIFIX_NVIM_PYTHON'), 'VERIFIX_NVIM_PYTHON'),
  out = assert(os.getenv('VERIFIX_NVIM_OUT'), 'VERIFIX_NVIM_OUT'),
}

H.record = {
  notes = {}, -- vim.notify calls
  progress = {}, -- LspProgress of the verifix client
  updates = {}, -- verifix/jobUpdate
  statuses = {}, -- verifix/status
  statuslines = {}, -- statusline() seen at each job update
  steps = {},
}

function H.step(name)
  table.insert(H.record.steps, { name = name, t = vim.uv.hrtime() / 1e9 })
end

vim.notify = function(msg, level)
  table.insert(H.record.notes, { msg = msg, level = level or vim.log.levels.INFO })
end

-- Anything left in the record is still written when a step fails.
function H.write()
  local f = assert(io.open(H.env.out, 'w'))
  f:write(vim.json.encode(H.record))
  f:close()
end

function H.wait(ms, cond, what)
  if not vim.wait(ms, cond, 20) then
    H.record.failed = 'timed out waiting for ' .. what
    H.write()
    error(H.record.failed)
  end
end

function H.setup(opts)
  vim.opt.runtimepath:prepend(H.env.plugin)
  vim.o.swapfile = false
  opts = vim.tbl_deep_extend('force', { python = H.env.python }, opts or {})
  require('verifix').setup(opts)
  vim.api.nvim_create_autocmd('LspProgress', {
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if client and client.name == 'verifix' then
        local v = args.data.params.value
        local entry = { kind = v.kind, title = v.title, message = v.message, percentage = v.percentage }
        table.insert(H.record.progress, entry)
      end
    end,
  })
  vim.api.nvim_create_autocmd('User', {
    pattern = 'VerifixJobUpdate',
    callback = function(args)
      table.insert(H.record.updates, args.data.update)
      table.insert(H.record.statuslines, require('verifix').statusline())
    end,
  })
  vim.api.nvim_create_autocmd('User', {
    pattern = 'VerifixStatus',
    callback = function(args)
      table.insert(H.record.statuses, args.data.status)
    end,
  })
  vim.api.nvim_create_autocmd('User', {
    pattern = 'VerifixJobDone',
    callback = function(args)
      H.record.done = H.record.done or {}
      table.insert(H.record.done, { label = args.data.label, err = args.data.err, outcome = args.data.outcome })
    end,
  })
end

function H.open(relpath)
  vim.cmd.edit(vim.fn.fnameescape(H.env.project .. '/' .. relpath))
  return vim.api.nvim_get_current_buf()
end

--- The verifix client of `bufnr` once its model is ready.
function H.ready(bufnr, ms)
  local client
  H.wait(ms or 30000, function()
    client = vim.lsp.get_clients({ bufnr = bufnr, name = 'verifix' })[1]
    return client ~= nil
  end, 'the verifix client to attach')
  H.wait(ms or 30000, function()
    local s = require('verifix.state').clients[client.id]
    return s and s.status and (s.status.state == 'ready' or s.status.state == 'error')
  end, 'the model status')
  H.record.offset_encoding = client.offset_encoding
  H.record.server_pid = H.record.server_pid or H.server_pid()
  return client
end

function H.wait_done(n, ms, what)
  H.wait(ms or 60000, function()
    return #(H.record.done or {}) >= n
  end, what or 'the job to end')
  return H.record.done[n]
end

function H.buffer_text(bufnr)
  return table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), '\n') .. '\n'
end

--- The cursor on `line` (1-based), just after the first occurrence of `after` (byte column).
function H.cursor(bufnr, line, after)
  local text = vim.api.nvim_buf_get_lines(bufnr, line - 1, line, true)[1]
  local col = 0
  if after then
    local s, e = text:find(after, 1, true)
    assert(s, ('%q not on line %d: %q'):format(after, line, text))
    col = e
  end
  vim.api.nvim_win_set_cursor(0, { line, col })
end

function H.descendants(pid)
  local out = {}
  local todo = { pid }
  while #todo > 0 do
    for _, child in ipairs(vim.api.nvim_get_proc_children(table.remove(todo))) do
      table.insert(out, child)
      table.insert(todo, child)
    end
  end
  return out
end

--- The server process: a child of this nvim (stdio servers only).
function H.server_pid()
  for _, pid in ipairs(vim.api.nvim_get_proc_children(vim.fn.getpid())) do
    local info = vim.api.nvim_get_proc(pid)
    if info and (info.name or ''):find('python') then
      return pid
    end
  end
end

--- Stop the clients (shutdown + exit, as on :quit), record, and leave.
function H.finish()
  local clients = vim.lsp.get_clients({ name = 'verifix' })
  for _, client in ipairs(clients) do
    client:stop()
  end
  vim.wait(5000, function()
    for _, client in ipairs(clients) do
      if not client:is_stopped() then
        return false
      end
    end
    return true
  end, 20)
  H.record.ok = true
  H.write()
end

return H
