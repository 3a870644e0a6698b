-- verifix for Neovim: the verifix language server (`python -m verifix serve`) for Python buffers,
-- with commands for its jobs and a statusline component.
local config = require('verifix.config')
local state = require('verifix.state')
local commands = require('verifix.commands')
local compat = require('verifix.compat')

local M = {}

local group = vim.api.nvim_create_augroup('verifix', { clear = true })

local function handlers()
  return {
    ['verifix/status'] = state.on_status,
    ['verifix/jobUpdate'] = state.on_job_update,
  }
end

-- Neovim 0.10: no vim.lsp.config/enable; start a client per Python buffer ourselves.
local function start_fallback(bufnr, cfg)
  if vim.bo[bufnr].buftype ~= '' then
    return
  end
  local name = vim.api.nvim_buf_get_name(bufnr)
  if name == '' then
    return
  end
  local c = vim.deepcopy(cfg)
  c.root_dir = vim.fs.root(bufnr, config.options.root_markers) or vim.fs.dirname(name)
  c.root_markers, c.filetypes = nil, nil
  vim.lsp.start(c, { bufnr = bufnr })
end

local function register()
  local cfg = config.lsp_config(handlers())
  if vim.lsp.config and vim.lsp.enable then
    vim.lsp.config(config.name, cfg)
    vim.lsp.enable(config.name)
    return
  end
  vim.api.nvim_create_autocmd('FileType', {
    group = group,
    pattern = config.options.filetypes,
    callback = function(args)
      start_fallback(args.buf, cfg)
    end,
  })
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    local ft = vim.bo[bufnr].filetype
    if vim.api.nvim_buf_is_loaded(bufnr) and vim.tbl_contains(config.options.filetypes, ft) then
      start_fallback(bufnr, cfg)
    end
  end
end

-- A second setup() with new settings reaches running servers without a restart.
local function push_settings()
  local settings = config.settings()
  for _, client in ipairs(vim.lsp.get_clients({ name = config.name })) do
    client.settings = { verifix = settings }
    compat.notify(client, 'workspace/didChangeConfiguration', { settings = client.settings })
  end
end

local function user_commands()
  local cmd = vim.api.nvim_create_user_command
  cmd('VerifixGenerate', function(a)
    commands.generate({ qualname = a.args })
  end, { nargs = '?', desc = 'verifix: generate a verified implementation of the function' })
  cmd('VerifixRepair', function(a)
    commands.repair({ qualname = a.args, force = a.bang })
  end, { nargs = '?', bang = true, desc = 'verifix: repair the code the test checks' })
  cmd('VerifixCancel', function(a)
    commands.cancel({ job_id = a.args })
  end, { nargs = '?', desc = 'verifix: cancel this editor\'s running jobs' })
  cmd('VerifixStatus', function()
    commands.status()
  end, { nargs = 0, desc = 'verifix: model state, jobs, fixes, settings' })
  cmd('VerifixInterim', function()
    commands.interim()
  end, { nargs = 0, desc = 'verifix: show the running job\'s answer so far (read-only)' })
end

---@param opts verifix.Options?
function M.setup(opts)
  local first = not M._did_setup
  config.set(opts)
  if config.options.tcp and not config.options.socket then
    local _, port, err = config.parse_tcp(config.options.tcp)
    if not err then
      _, err = config.token(port)
    end
    if err then
      vim.notify('verifix: ' .. err, vim.log.levels.ERROR)
      return
    end
  end
  vim.api.nvim_clear_autocmds({ group = group })
  vim.api.nvim_create_autocmd('LspProgress', { group = group, callback = state.on_progress })
  user_commands()
  register()
  if not first then
    push_settings()
  end
  M._did_setup = true
end

M.generate = commands.generate
M.repair = commands.repair
M.cancel = commands.cancel
M.status = commands.status
M.interim = commands.interim

--- Statusline component: "" when no verifix client serves the current buffer.
--- "verifix: loading model 40%", "verifix: generate double 60% probe", "verifix: 1 fix ready", ...
function M.statusline()
  local bufnr = vim.api.nvim_get_current_buf()
  local client = commands.client(bufnr)
  if not client then
    return ''
  end
  local s = state.clients[client.id] or {}
  local job = state.active_jobs(client.id)[1]
  if job then
    local name = job.kind .. ' ' .. state.short_target(job.target)
    if job.state == 'queued' then
      return ('verifix: %s queued'):format(name)
    end
    local phase = (job.phase ~= '' and job.phase ~= 'task') and (' ' .. job.phase) or ''
    return ('verifix: %s %d%%%s'):format(name, job.percent or 0, phase)
  end
  local st = s.status
  if not st then
    return 'verifix: starting'
  end
  if st.state == 'loading' then
    for _, p in pairs(s.progress or {}) do
      if p.percentage and (p.title or ''):find('loading') then
        return ('verifix: loading model %d%%'):format(p.percentage)
      end
    end
    return 'verifix: loading model'
  elseif st.state == 'error' then
    return 'verifix: model error (:checkhealth verifix)'
  end
  local fixes = #(st.fixes or {})
  if fixes > 0 then
    return ('verifix: %d fix%s ready'):format(fixes, fixes == 1 and '' or 'es')
  end
  return 'verifix'
end

return M
