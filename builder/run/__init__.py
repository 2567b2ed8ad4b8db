"""builder/run"""
