-- :checkhealth verifix
local config = require('verifix.config')
local state = require('verifix.state')

local M = {}

local h = vim.health

local function run(cmd, opts)
  local ok, obj = pcall(vim.system, cmd, { text = true, cwd = opts.cwd })
  if not ok then
    return { code = -1, stdout = '', stderr = tostring(obj) }
  end
  return obj:wait(opts.timeout)
end

--- Settings as `--set key=value` flags for `verifix doctor` (dotted camelCase keys).
local function set_flags(tbl, prefix, out)
  out = out or {}
  local keys = vim.tbl_keys(tbl)
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v, key = tbl[k], prefix and (prefix .. '.' .. k) or k
    if type(v) == 'table' then
      set_flags(v, key, out)
    else
      vim.list_extend(out, { '--set', key .. '=' .. tostring(v) })
    end
  end
  return out
end

--- How to run the verifix CLI with the same Python as the server; nil if unknown.
local function cli()
  local cmd = config.options.cmd
  if cmd then
    if cmd[2] == '-m' and cmd[3] == 'verifix' then
      return { cmd[1], '-m', 'verifix' }
    elseif vim.fs.basename(cmd[1]) == 'verifix' then
      return { cmd[1] }
    end
    return nil
  end
  return { config.python(), '-m', 'verifix' }
end

local function check_nvim()
  h.start('verifix: Neovim')
  local v = tostring(vim.version())
  if vim.fn.has('nvim-0.11') == 1 then
    h.ok('Neovim ' .. v .. ' (vim.lsp.config + vim.lsp.enable)')
  elseif vim.fn.has('nvim-0.10') == 1 then
    h.warn('Neovim ' .. v .. ': works through the vim.lsp.start fallback', { 'Neovim 0.11 or newer is recommended' })
  else
    h.error('Neovim ' .. v .. ' is too old', { 'verifix needs Neovim 0.10 or newer (0.11 recommended)' })
  end
  if not require('verifix')._did_setup then
    h.warn('require("verifix").setup() was not called', { 'add require("verifix").setup({}) to your config' })
  end
end

local function tcp_reachable(host, port)
  local addr = (vim.uv.getaddrinfo(host, nil, { socktype = 'stream' }) or {})[1]
  local tcp = vim.uv.new_tcp()
  local result
  tcp:connect(addr and addr.addr or host, port, function(err)
    result = err or true
  end)
  vim.wait(2000, function()
    return result ~= nil
  end, 20)
  tcp:close()
  return result == true, result
end

---@return boolean usable whether the CLI can run (for the doctor)
local function check_server()
  h.start('verifix: server')
  local opts = config.options
  local usable = false
  if opts.tcp then
    local host, port, err = config.parse_tcp(opts.tcp)
    if err then
      h.error(err)
    else
      local ok, why = tcp_reachable(host, port)
      if ok then
        h.ok(('shared server reachable at %s:%d'):format(host, port))
      else
        h.error(('no server at %s:%d (%s)'):format(host, port, tostring(why)), {
          ('start it: verifix serve --tcp %s:%d'):format(host, port),
        })
      end
    end
  end
  local base = cli()
  if not opts.tcp and opts.cmd and not base then
    local found = vim.fn.executable(opts.cmd[1]) == 1
    local report = found and h.ok or h.error
    report('server command: ' .. table.concat(opts.cmd, ' ') .. (found and '' or ' (not executable)'))
    return false
  end
  if base and vim.fn.executable(base[1]) == 1 then
    local res = run(vim.list_extend(vim.deepcopy(base), { '--version' }), { timeout = 30000 })
    if res.code == 0 then
      h.ok(('%s (%s)'):format(vim.trim(res.stdout), table.concat(base, ' ')))
      usable = true
    elseif not opts.tcp then
      h.error(('%s cannot run verifix: %s'):format(base[1], vim.trim(res.stderr or '')), {
        'install it into that Python: pip install verifix',
        'or point setup() at the Python that has it: python = "/path/to/venv/bin/python"',
      })
    end
  elseif not opts.tcp then
    h.error(('%s not found'):format(base and base[1] or '?'), {
      'set python = "/path/to/venv/bin/python" in require("verifix").setup()',
    })
  end
  for _, client in ipairs(vim.lsp.get_clients({ name = config.name })) do
    h.info(('client %d: root %s, %d buffer(s), position encoding %s'):format(client.id, client.root_dir or '(none)',
      vim.tbl_count(client.attached_buffers), client.offset_encoding))
  end
  return usable
end

local function check_running_model()
  h.start('verifix: model')
  local any = false
  for _, client in ipairs(vim.lsp.get_clients({ name = config.name })) do
    local st = (state.clients[client.id] or {}).status
    if st then
      any = true
      if st.state == 'ready' then
        h.ok(('%s ready (client %d)'):format(st.model, client.id))
      elseif st.state == 'loading' then
        h.info(('%s: %s (client %d)'):format(st.model, st.message ~= '' and st.message or 'loading', client.id))
      else
        h.error(('%s: %s'):format(st.model, st.message), st.remedy ~= '' and { st.remedy } or nil)
      end
    end
  end
  if not any then
    h.info('no verifix client is running: open a Python file to start one')
  end
end

local function doctor()
  local opts = config.options
  local args = vim.list_extend(vim.deepcopy(cli()), { 'doctor', '--json', '--no-generate' })
  vim.list_extend(args, set_flags(opts.settings or {}))
  local client = vim.lsp.get_clients({ name = config.name })[1]
  local cwd = client and client.root_dir or vim.fn.getcwd()
  local res = run(args, { cwd = cwd, timeout = (opts.health or {}).timeout_ms or 120000 })
  local ok, report = pcall(vim.json.decode, res.stdout or '')
  if not ok or type(report) ~= 'table' or type(report.checks) ~= 'table' then
    h.start('verifix: doctor')
    h.error(('`%s` failed (exit %s): %s'):format(table.concat(args, ' '), tostring(res.code),
      vim.trim(res.stderr or '')))
    return
  end
  local gpu_wanted = ((opts.settings or {}).gpuLayers or -1) ~= 0
  local sandbox
  for _, c in ipairs(report.checks) do
    local advice = (c.remedy or '') ~= '' and { c.remedy } or nil
    if c.name == 'sandbox' then
      sandbox = c
    elseif c.name == 'llama.cpp' and c.gpu_offload == false then
      local report_fn = gpu_wanted and h.warn or h.info
      report_fn('llama.cpp: ' .. c.detail, advice)
    elseif c.ok then
      h.ok(c.name .. ': ' .. c.detail)
    else
      h.error(c.name .. ': ' .. c.detail, advice)
    end
  end
  h.start('verifix: sandbox')
  if not sandbox then
    h.warn('the doctor reported no sandbox check')
  elseif sandbox.isolation == 'strong' then
    h.ok(sandbox.detail)
  elseif sandbox.ok then
    h.warn(sandbox.detail, { sandbox.remedy })
  else
    h.error(sandbox.detail, { sandbox.remedy })
  end
end

function M.check()
  check_nvim()
  local usable = check_server()
  check_running_model()
  if (config.options.health or {}).doctor == false then
    h.info('`verifix doctor` skipped (health.doctor = false)')
  elseif usable then
    h.info('`verifix doctor --json --no-generate` (loads the model once):')
    doctor()
  else
    h.info('`verifix doctor` skipped: verifix does not run here (' .. config.describe_cmd() .. ')')
  end
end

return M
