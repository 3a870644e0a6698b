-- A shared server (verifix serve --tcp with its token, or --socket): connect, generate by name,
-- leave; the server stays.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)), 'helpers.lua'))

local socket = os.getenv('VERIFIX_NVIM_SOCKET')
H.setup({ tcp = not socket and assert(os.getenv('VERIFIX_NVIM_TCP')) or nil, socket = socket,
  settings = { onSave = false } })
local buf = H.open('mod.py')
H.ready(buf)
H.record.server_pid = H.server_pid() -- nil: nothing was spawned
vim.cmd('VerifixGenerate double')
H.wait_done(1, 60000, 'the generate job')
H.record.text = H.buffer_text(buf)
H.finish()
