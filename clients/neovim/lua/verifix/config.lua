-- Options of require("verifix").setup() and the LSP client config built from them.
local M = {}

M.name = 'verifix'

---@class verifix.Options
M.defaults = {
  -- Python that has verifix installed; nil: python3 on PATH.
  python = nil,
  -- Full server command; overrides `python`.
  cmd = nil,
  -- Shared server started with `verifix serve --tcp 127.0.0.1:2087`: "host:port" or {host=, port=}.
  tcp = nil,
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

--- The server command: a process (stdio) or a connection to a shared server.
function M.cmd()
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
  local cfg = {
    name = M.name,
    cmd = M.cmd(),
    filetypes = opts.filetypes,
    root_markers = opts.root_markers,
    -- Both: initializationOptions reach the server before it loads the model,
    -- workspace/configuration (section "verifix") keeps working after a change.
    init_options = settings,
    settings = { verifix = settings },
    handlers = handlers,
  }
  return vim.tbl_extend('force', cfg, opts.lsp or {})
end

return M
