"""verifix.code"""
