-- A slow job, :VerifixCancel: it ends cancelled at once, no edit, no process of the run left.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)), 'helpers.lua'))

H.setup({ settings = { onSave = false } })
local buf = H.open('mod.py')
H.ready(buf)
local server = assert(H.server_pid(), 'the server process')
H.record.server_pid = server
H.record.before = H.buffer_text(buf)
H.cursor(buf, 4, 'def ')
vim.cmd('VerifixGenerate')
H.wait(30000, function()
  for _, u in ipairs(H.record.updates) do
    if u.phase == 'probe' then
      return true
    end
  end
  return false
end, 'the model to start')
vim.wait(300)
H.record.statusline_running = require('verifix').statusline()
H.step('cancel')
vim.cmd('VerifixCancel')
H.wait_done(1, 10000, 'the job to end after :VerifixCancel')
H.step('cancelled')
H.wait(5000, function()
  return #H.descendants(server) == 0
end, 'the server\'s child processes to go')
H.record.leftover = H.descendants(server)
H.record.text = H.buffer_text(buf)
H.record.modified = vim.bo[buf].modified
H.record.statusline_after = require('verifix').statusline()

-- The server still answers, with no job left.
local status
require('verifix').status(function(st)
  status = st
end)
H.wait(10000, function()
  return status ~= nil
end, 'the status after cancel')
H.record.status_after = status
H.finish()
