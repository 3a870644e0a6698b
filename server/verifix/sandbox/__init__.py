"""verifix.sandbox"""
