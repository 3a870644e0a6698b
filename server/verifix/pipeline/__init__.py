"""verifix.pipeline"""
