"""verifix.bench"""
