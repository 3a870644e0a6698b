-- Options of require("verifix").setup() and the LSP client config built from them.
local M = {}

M.name = 'verifix'

---@class verifix.Options
M.defaults = {
  -- Python that has verifix installed; nil: python3 on PATH.
  python = nil,
  -- Full server command; overrides `python`.
  cmd = nil,
  -- Shared server started with `verifix serve --socket [PATH]`: the socket's path (only you can
  -- open it). Wins over `tcp`.
  socket = nil,
  -- Shared server started with `verifix serve --tcp 127.0.0.1:2087`: "host:port" or {host=, port=}.
  -- The client sends the token the server wrote to a file only you can read.
  tcp = nil,
  -- That token file, when it is not where the server writes it ($XDG_RUNTIME_DIR/verifix/,
  -- /run/user/UID/verifix/ or /tmp/runtime-UID/verifix/, tcp-PORT.token).
  token_file = nil,
  filetypes = { 'python' },
  root_markers = { 'pyproject.toml', 'setup.py', 'setup.cfg', 'requirements.txt', '.git' },
  -- The server's settings, camelCase as in `[tool.verifix]`: model, gpuLayers, onSave,
  -- confirmEdits, pipeline = { candidates = 4, ... }, sandbox = { timeout = 5, ... }, and
  -- python: the Python that runs the project's tests (default: $VIRTUAL_ENV, .venv/, venv/).
  settings = {},
  -- vim.notify when a job you started ends.
  notify = true,
  -- `:checkhealth verifix` runs `verifix doctor --json --no-generate` (it loads the model once).
  health = { doctor = true, timeout_ms = 120000 },
  -- Extra fields merged into the vim.lsp config: on_attach, capabilities, cmd_env, ...
  lsp = {},
}

---@type verifix.Options
M.options = vim.deepcopy(M.defaults)

function M.set(opts)
  M.options = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts or {})
  -- Lists replace, never merge by index.
  for _, key in ipairs({ 'filetypes', 'root_markers', 'cmd' }) do
    if opts and opts[key] ~= nil then
      M.options[key] = opts[key]
    end
  end
  return M.options
end

--- Empty Lua tables encode as JSON arrays; the server wants objects.
function M.as_object(value)
  if type(value) ~= 'table' then
    return value
  end
  if next(value) == nil then
    return vim.empty_dict()
  end
  if vim.islist(value) then
    return value
  end
  local out = {}
  for k, v in pairs(value) do
    out[k] = M.as_object(v)
  end
  return out
end

function M.settings()
  return M.as_object(M.options.settings or {})
end

---@return string? host, integer? port, string? error
function M.parse_tcp(tcp)
  local host, port
  if type(tcp) == 'table' then
    host, port = tcp.host or '127.0.0.1', tonumber(tcp.port)
  elseif type(tcp) == 'string' then
    host, port = tcp:match('^%[?([^%]]*)%]?:(%d+)$')
    port = tonumber(port)
  end
  if not host or not port then
    return nil, nil, ('tcp: expected "host:port" or {host=, port=}, got %s'):format(vim.inspect(tcp))
  end
  return host, port
end

function M.python()
  local python = M.options.python
  return python and vim.fs.normalize(python) or 'python3' -- normalize expands ~
end

local function process_cmd()
  return M.options.cmd or { M.python(), '-m', 'verifix', 'serve' }
end

--- Where `verifix serve --tcp` may have written the token of `port`, in the order the server
--- chooses its runtime directory (platformdirs).
function M.token_candidates(port)
  local uid = vim.uv.getuid()
  local dirs = { os.getenv('XDG_RUNTIME_DIR'), ('/run/user/%d'):format(uid),
    vim.fs.joinpath(os.getenv('TMPDIR') or '/tmp', ('runtime-%d'):format(uid)) }
  local out = {}
  for _, dir in pairs(dirs) do
    if dir and dir ~= '' then
      table.insert(out, vim.fs.joinpath(dir, 'verifix', ('tcp-%d.token'):format(port)))
    end
  end
  return out
end

---@return string? token, string? error
function M.token(port)
  local candidates = M.options.token_file and { vim.fs.normalize(M.options.token_file) }
    or M.token_candidates(port)
  for _, file in ipairs(candidates) do
    local stat = vim.uv.fs_stat(file)
    if stat then
      if bit.band(stat.mode, 63) ~= 0 or stat.uid ~= vim.uv.getuid() then
        return nil, ('%s must be yours and readable by you only (chmod 600)'):format(file)
      end
      local lines = vim.fn.readfile(file)
      local token = vim.trim(lines[1] or '')
      if token == '' then
        return nil, file .. ' is empty'
      end
      return token
    end
  end
  return nil, ('no token for the server on port %d (looked in %s): start it on this machine '
    .. 'with `verifix serve --tcp 127.0.0.1:%d`, or set token_file'):format(
      port, table.concat(candidates, ', '), port)
end

--- The server command: a process (stdio) or a connection to a shared server.
function M.cmd()
  if M.options.socket then
    return vim.lsp.rpc.connect(vim.fs.normalize(M.options.socket))
  end
  local tcp = M.options.tcp
  if tcp then
    local host, port, err = M.parse_tcp(tcp)
    if err then
      error('verifix: ' .. err)
    end
    return vim.lsp.rpc.connect(host, port)
  end
  return process_cmd()
end

--- Human-readable form of the command, for messages and :checkhealth.
function M.describe_cmd()
  if M.options.socket then
    return ('shared server at %s'):format(vim.fs.normalize(M.options.socket))
  end
  local tcp = M.options.tcp
  if tcp then
    local host, port = M.parse_tcp(tcp)
    return ('shared server at %s:%s'):format(host, port)
  end
  return table.concat(process_cmd(), ' ')
end

---@param handlers table<string, function>
function M.lsp_config(handlers)
  local opts = M.options
  local settings = M.settings()
  local init = settings
  if opts.tcp and not opts.socket then
    -- The token opens the shared server's door; it is never a setting.
    local _, port = M.parse_tcp(opts.tcp)
    init = vim.tbl_extend('force', vim.deepcopy(settings), { verifixToken = M.token(port) })
  end
  local cfg = {
    name = M.name,
    cmd = M.cmd(),
    filetypes = opts.filetypes,
    root_markers = opts.root_markers,
    -- Both: initializationOptions reach the server before it loads the model,
    -- workspace/configuration (section "verifix") keeps working after a change.
    init_options = init,
    settings = { verifix = settings },
    handlers = handlers,
  }
  return vim.tbl_extend('force', cfg, opts.lsp or {})
end

return M
