-- A failing test: :VerifixRepair on it fixes the function it checks, in another file.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)), 'helpers.lua'))

-- Without vim.lsp.config/enable, setup() takes its Neovim 0.10 route (FileType + vim.lsp.start).
vim.lsp.config, vim.lsp.enable = nil, nil
H.setup({ settings = { onSave = false } })
local buf = H.open('test_mod.py')
H.ready(buf)
-- In the test body, after multi-byte text.
H.cursor(buf, 6, '«×»')
H.step('repair')
vim.cmd('VerifixRepair')
H.wait_done(1, 60000, 'the repair job')
H.step('done')
local mod = vim.fn.bufnr(H.env.project .. '/mod.py')
H.record.mod_loaded = mod ~= -1
if mod ~= -1 then
  H.record.mod_text = H.buffer_text(mod)
  H.record.mod_modified = vim.bo[mod].modified
end
H.record.test_text = H.buffer_text(buf)
-- The edit loaded mod.py; its FileType reused the one client.
H.record.clients = #vim.lsp.get_clients({ name = 'verifix' })
H.record.mod_attached = mod ~= -1 and #vim.lsp.get_clients({ bufnr = mod, name = 'verifix' }) == 1
vim.cmd('silent wall')
H.finish()
