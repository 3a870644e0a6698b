-- :checkhealth verifix with a model that fails to load: the report says so and how to fix it.
local H = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)), 'helpers.lua'))

H.setup({ settings = { model = H.env.project .. '/missing.gguf', onSave = false } })
local buf = H.open('mod.py')
H.ready(buf)
H.record.statusline = require('verifix').statusline()
vim.cmd('checkhealth verifix')
H.record.health = vim.api.nvim_buf_get_lines(0, 0, -1, false)
H.finish()
