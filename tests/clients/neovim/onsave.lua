-- Saving a file whose test fails: a verifix diagnostic on the test, a verified fix found in the
-- background (statusline), and :VerifixRepair on the diagnostic applies that fix.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)), 'helpers.lua'))

H.setup({})
local test_buf = H.open('test_mod.py')
local client = H.ready(test_buf)
local mod = H.open('mod.py')
vim.cmd('write')
H.step('saved')
local ns = vim.lsp.diagnostic.get_namespace(client.id, false)
H.wait(60000, function()
  return #vim.diagnostic.get(test_buf, { namespace = ns }) > 0
end, 'the failing test\'s diagnostic')
H.record.diagnostics = vim.tbl_map(function(d)
  return { lnum = d.lnum, message = d.message, source = d.source }
end, vim.diagnostic.get(test_buf, { namespace = ns }))
H.wait(60000, function()
  local s = require('verifix.state').clients[client.id]
  return s and s.status and #s.status.fixes > 0
end, 'the background fix')
H.step('fix ready')
vim.cmd.buffer(test_buf)
H.record.statusline_fix = require('verifix').statusline()
H.cursor(test_buf, H.record.diagnostics[1].lnum + 1)
vim.cmd('VerifixRepair')
H.wait_done(1, 30000, 'the fix to apply')
H.step('applied')
H.record.mod_text = H.buffer_text(mod)
H.wait(10000, function()
  local s = require('verifix.state').clients[client.id]
  return #s.status.fixes == 0
end, 'the fix to be used up')
H.record.statusline_after = require('verifix').statusline()
H.finish()
