-- Stub -> :VerifixGenerate -> progress and jobUpdate events -> the verified body in the buffer.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)), 'helpers.lua'))

H.setup({ settings = { pipeline = { candidates = 2 }, onSave = false } })
local buf = H.open('mod.py')
H.ready(buf)
H.record.statusline_ready = require('verifix').statusline()
H.record.before = H.buffer_text(buf)
-- Inside the docstring, after multi-byte text: the position goes out as UTF-8 bytes.
H.cursor(buf, 5, '«×2»')
-- The probe passes the example: shown as an interim answer while the job runs, not applied.
vim.api.nvim_create_autocmd('User', {
  pattern = 'VerifixInterim',
  once = true,
  callback = function(args)
    H.record.interim_code = args.data.update.interim.code
    H.record.text_at_interim = H.buffer_text(buf)
  end,
})
H.step('generate')
vim.cmd('VerifixGenerate')
H.wait_done(1, 60000, 'the generate job')
H.step('done')
H.record.text = H.buffer_text(buf)
local scratch = require('verifix').interim()
H.record.interim_lines = vim.api.nvim_buf_get_lines(scratch, 0, -1, false)
H.record.interim_modifiable = vim.bo[scratch].modifiable
H.record.interim_buftype = vim.bo[scratch].buftype
vim.cmd.close()
vim.api.nvim_set_current_buf(buf)
H.record.statusline_after = require('verifix').statusline()

local notes = #H.record.notes
vim.cmd('VerifixStatus')
H.wait(10000, function()
  return #H.record.notes > notes
end, ':VerifixStatus')

-- setup() again: the new settings reach the running server.
require('verifix').setup({ python = H.env.python, settings = { pipeline = { candidates = 3 }, onSave = false } })
H.wait(10000, function()
  local last = H.record.statuses[#H.record.statuses]
  return last and last.settings and last.settings.pipeline and last.settings.pipeline.candidates == 3
end, 'the new settings to reach the server')
H.record.clients = #vim.lsp.get_clients({ name = 'verifix' })

-- Nothing to generate on the import line: a warning, no request.
H.cursor(buf, 1)
notes = #H.record.notes
vim.cmd('VerifixGenerate')
H.wait(10000, function()
  return #H.record.notes > notes
end, 'the "no function" warning')
H.finish()
