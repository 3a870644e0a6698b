"""verifix.lsp"""
